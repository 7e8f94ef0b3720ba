import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { certUploadSchema } from '../../model/cert.js';
import { parse } from '../http-errors.js';
import type { ApiContext } from './context.js';

const idParams = z.strictObject({ id: z.uuid('a certificate id') });
const waitQuery = z.strictObject({ wait: z.enum(['true', 'false', '1', '0']).optional() });

/** Certificates under /api/v1/certificates (keys go in, never out). */
export async function certRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { certs, edge } = ctx;
  app.get('/certificates', async () => ({ certificates: await certs.list() }));
  app.post('/certificates', async (req, reply) => {
    const q = parse(waitQuery, req.query, 'query');
    const input = parse(certUploadSchema, req.body, '');
    const cert = await certs.upload(input.cert, input.key);
    if (q.wait === 'true' || q.wait === '1') await edge.refresh();
    return reply.code(201).send(cert);
  });
  app.delete('/certificates/:id', async (req) => {
    const { id } = parse(idParams, req.params, 'params');
    const q = parse(waitQuery, req.query, 'query');
    await certs.remove(id);
    if (q.wait === 'true' || q.wait === '1') await edge.refresh();
    return { deleted: id };
  });
}
