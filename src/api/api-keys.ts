import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { apiKeyCreateSchema } from '../model/api-key.js';
import { parse } from './http-errors.js';
import type { ApiContext } from './context.js';

const idParams = z.strictObject({ id: z.string().regex(/^[0-9a-f]{16}$/, 'an API key id (16 hex digits)') });

/** API keys under /api/v1/api-keys: the key itself is in the 201 answer and nowhere else. */
export async function apiKeyRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { apiKeys } = ctx.gate;
  app.post('/api-keys', async (req, reply) => {
    const input = parse(apiKeyCreateSchema, req.body, '');
    return reply.code(201).send(await apiKeys.create(input));
  });
  app.get('/api-keys', async () => ({ keys: await apiKeys.list() }));
  app.delete('/api-keys/:id', async (req) => {
    const { id } = parse(idParams, req.params, 'params');
    await apiKeys.revoke(id);
    return { revoked: id };
  });
}
