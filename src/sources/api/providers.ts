import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { providerCreateSchema } from '../../model/provider.js';
import { slugSchema } from '../../model/values.js';
import { parse } from '../http-errors.js';
import type { ApiContext } from './context.js';

const providerParams = z.strictObject({ name: slugSchema });

/** OIDC providers under /api/v1/providers (the client secret is write-only). */
export async function providerRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { providers } = ctx.gate;
  app.get('/providers', async () => ({ providers: await providers.list() }));
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
