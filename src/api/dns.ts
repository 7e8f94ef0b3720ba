import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { dnsProviderSchema } from '../model/dns.js';
import { slugSchema } from '../model/values.js';
import { parse } from './http-errors.js';
import type { ApiContext } from './context.js';

const dnsParams = z.strictObject({ name: slugSchema });

/** DNS providers under /api/v1/dns-providers (secrets go in, never out). */
export async function dnsRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const dns = ctx.dnsProviders;
  app.get('/dns-providers', async () => ({ providers: await dns.list() }));
  app.post('/dns-providers', async (req, reply) => {
    const input = parse(dnsProviderSchema, req.body, '');
    const view = await dns.create(input);
    // A wildcard may be possible now.
    void ctx.certManager?.kick();
    return reply.code(201).send(view);
  });
  app.delete('/dns-providers/:name', async (req) => {
    const { name } = parse(dnsParams, req.params, 'params');
    await dns.remove(name);
    return { deleted: name };
  });
}
