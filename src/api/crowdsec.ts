import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { CrowdsecBouncer } from '../gate/crowdsec.js';
import { parse } from './http-errors.js';
import type { CrowdsecView } from './views/crowdsec.js';

export const crowdsecQuerySchema = z.strictObject({
  /** How many decisions to list (newest first). */
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/**
 * GET /api/v1/crowdsec: whether CrowdSec's decisions are enforced, the Local API's state (answers,
 * last pull, error), and the active decisions (docs/crowdsec.md).
 */
export async function crowdsecRoutes(
  app: FastifyInstance,
  bouncer: CrowdsecBouncer | undefined,
): Promise<void> {
  app.get('/crowdsec', async (req): Promise<CrowdsecView> => {
    const q = parse(crowdsecQuerySchema, req.query, 'query');
    if (!bouncer) return { enabled: false, decisions: [] };
    return { enabled: true, status: bouncer.status(), decisions: bouncer.active().slice(0, q.limit) };
  });
}
