import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { linkCreateSchema } from '../model/link.js';
import { slugSchema } from '../model/values.js';
import { parse } from './http-errors.js';
import type { ApiContext } from './context.js';

const idParams = z.strictObject({ id: z.uuid('a link id') });
const listQuery = z.strictObject({ service: slugSchema.optional() });

/** Temporary links under /api/v1/links. */
export async function linkRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { links } = ctx.gate;
  app.post('/links', async (req, reply) => {
    const input = parse(linkCreateSchema, req.body, '');
    return reply.code(201).send(await links.create(input));
  });
  app.get('/links', async (req) => {
    const q = parse(listQuery, req.query, 'query');
    return { links: await links.list(q.service) };
  });
  app.get('/links/:id', async (req) => {
    const { id } = parse(idParams, req.params, 'params');
    return links.get(id);
  });
  app.delete('/links/:id', async (req) => {
    const { id } = parse(idParams, req.params, 'params');
    await links.revoke(id);
    return { revoked: id };
  });
}
