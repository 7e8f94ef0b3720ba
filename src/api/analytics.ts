import type { FastifyInstance } from 'fastify';
import type { AccessLogStore } from '../observe/access-log-store.js';
import { analytics, analyticsQuerySchema } from '../observe/analytics.js';
import { parse } from './http-errors.js';
import type { AnalyticsView } from './views/index.js';

/**
 * GET /analytics?window=1h|24h|7d&service=: requests, error rate, p50/p95 latency, top paths,
 * clients and denied addresses, and a time series, from the access log store (docs/logs.md).
 */
export async function analyticsRoutes(app: FastifyInstance, store: AccessLogStore): Promise<void> {
  app.get('/analytics', async (req) => {
    const q = parse(analyticsQuerySchema, req.query, 'query');
    return (await analytics(store, q)) satisfies AnalyticsView;
  });
}
