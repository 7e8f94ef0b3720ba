import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { providerCreateSchema } from '../model/provider.js';
import { portalHost } from '../model/settings.js';
import { slugSchema } from '../model/values.js';
import { parse } from './http-errors.js';
import type { ApiContext } from './context.js';
import type { ProviderList } from './views/index.js';

const providerParams = z.strictObject({ name: slugSchema });

/** OIDC providers under /api/v1/providers (the client secret is write-only). */
export async function providerRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { providers } = ctx.gate;
  app.get(
    '/providers',
    async () =>
      ({
        providers: await providers.list(),
        /**
         * What to register at a provider: the portal's callback as browsers reach it (https when the
         * live config serves the portal over HTTPS); null without a portal host (no base domain).
         */
        redirect_uri: await redirectUri(ctx),
      }) satisfies ProviderList,
  );
  app.post('/providers', async (req, reply) => {
    const input = parse(providerCreateSchema, req.body, '');
    return reply.code(201).send(await providers.create(input));
  });
  app.get('/providers/:name', async (req) => {
    const { name } = parse(providerParams, req.params, 'params');
    return providers.get(name);
  });
  app.delete('/providers/:name', async (req) => {
    const { name } = parse(providerParams, req.params, 'params');
    await providers.remove(name);
    return { deleted: name };
  });
}

async function redirectUri(ctx: ApiContext): Promise<string | null> {
  const host = portalHost(ctx.settings);
  return host ? `${await ctx.gate.originOf(host)}/oidc/callback` : null;
}
