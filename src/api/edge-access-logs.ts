import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { NodeStore } from '../edge/nodes.js';
import { accessLogBatchSchema, type AccessLogSink } from '../model/access-log.js';
import { GatehouseError } from '../model/errors.js';
import { ACCESS_LOGS_PATH } from '../observe/access-log-sender.js';
import type { TrafficMetrics } from '../observe/traffic-export.js';
import { trafficCountersSchema } from '../observe/traffic-schema.js';
import { parse } from './http-errors.js';

/** What the control plane does with edges' access logs: keeps the records, exports the counters. */
export interface EdgeTrafficDeps {
  sink: AccessLogSink;
  metrics: TrafficMetrics;
}

const accessLogsBody = z.strictObject({
  records: accessLogBatchSchema,
  counters: trafficCountersSchema.optional(),
  /** Its TCP routes' counters (observe/traffic-tcp.ts). */
  tcp: trafficCountersSchema.optional(),
});

/** A batch of 5,000 records of long paths: well under this. */
const BODY_LIMIT = 32 * 1024 * 1024;

/**
 * POST /edge/v1/access-logs, with a node token (as the other /edge/v1 routes): a batch of access
 * log records (src/model/access-log.ts) and the edge's traffic counters that changed. The records'
 * node is the token's node, whatever the edge wrote; its counters are exported with node=<name>.
 */
export async function edgeAccessLogRoutes(
  app: FastifyInstance,
  nodes: NodeStore,
  traffic: EdgeTrafficDeps,
): Promise<void> {
  app.post(ACCESS_LOGS_PATH, { bodyLimit: BODY_LIMIT }, async (req) => {
    const auth = await nodes.byBearer(req.headers.authorization);
    if (!auth) throw new GatehouseError('unauthorized', 'missing or wrong node token', 401);
    const body = parse(accessLogsBody, req.body, '');
    const node = auth.node.name;
    if (body.counters) traffic.metrics.node(node).merge(body.counters);
    if (body.tcp) traffic.metrics.tcpNode(node).merge(body.tcp);
    if (body.records.length > 0) await traffic.sink.ingest(body.records.map((r) => ({ ...r, node })));
    return { ok: true, records: body.records.length };
  });
}
