import type { FastifyInstance } from 'fastify';
import { auditQuerySchema, type AuditLog } from './audit-log.js';
import { parse } from './http-errors.js';

/** GET /api/v1/audit: changes made through the API, newest first (`before` pages on). */
export async function auditRoutes(app: FastifyInstance, audit: AuditLog): Promise<void> {
  app.get('/audit', async (req) => {
    const q = parse(auditQuerySchema, req.query, 'query');
    return { entries: await audit.list(q) };
  });
}
