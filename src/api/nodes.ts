import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { EdgeFeed } from '../edge/feed.js';
import { feedBodyJson } from '../edge/feed-json.js';
import { nodeCreateSchema, nodeReportSchema, type NodeStore } from '../edge/nodes.js';
import { GatehouseError } from '../model/errors.js';
import { slugSchema } from '../model/values.js';
import { CONTROL_PLACEHOLDER } from './control-url.js';
import type { TunnelStats } from '../vpn/stats.js';
import { parse } from './http-errors.js';
import type { ApiContext } from './context.js';
import type { NodeEnrolled, NodeList } from './views/index.js';

const nameParams = z.strictObject({ name: slugSchema });
const configQuery = z.strictObject({
  have: z
    .string()
    .regex(/^[0-9a-f]{64}$|^$/, 'a config hash')
    .default(''),
  wait: z.coerce.number().int().min(0).max(60).default(25),
});

/** Nodes (admin) under /api/v1/nodes. */
export async function nodeRoutes(
  app: FastifyInstance,
  nodes: NodeStore,
  feed: EdgeFeed,
  controlUrl = CONTROL_PLACEHOLDER,
): Promise<void> {
  app.get('/nodes', async () => {
    const list = await nodes.list();
    // What each role should serve now (config, certificates, gate state): once per role.
    const hashes = new Map<string, string>();
    for (const role of new Set(list.map((n) => n.role))) hashes.set(role, await feed.currentHash(role));
    return {
      nodes: list.map((n) => ({
        ...n,
        in_sync: n.applied_hash !== '' && n.applied_hash === hashes.get(n.role),
      })),
    } satisfies NodeList;
  });
  app.post('/nodes', async (req, reply) => {
    const input = parse(nodeCreateSchema, req.body, '');
    const { node, token } = await nodes.add(input);
    const command = `gatehouse edge --control ${controlUrl} --node-token ${token}`;
    return reply.code(201).send({ node, token, command } satisfies NodeEnrolled);
  });
  app.delete('/nodes/:name', async (req) => {
    const { name } = parse(nameParams, req.params, 'params');
    await nodes.remove(name);
    feed.forget(name);
    return { deleted: name };
  });
}

/**
 * What edge agents call, with their node token (not the admin token): the feed, long-polled (the
 * control plane never connects to an edge, so edges behind NAT work), and what they applied.
 */
export async function edgeRoutes(
  app: FastifyInstance,
  ctx: ApiContext,
  nodes: NodeStore,
  feed: EdgeFeed,
  tunnels?: TunnelStats,
): Promise<void> {
  app.get('/edge/v1/config', async (req, reply) => {
    const auth = await nodes.byBearer(req.headers.authorization);
    if (!auth) throw new GatehouseError('unauthorized', 'missing or wrong node token', 401);
    const q = parse(configQuery, req.query, 'query');
    await nodes.seen(auth.node.name, req.ip);
    // The mark is taken before looking, so a change between the look and the wait is not missed.
    const mark = feed.mark;
    if (q.have && q.have === (await feed.currentHash(auth.node.role)) && q.wait > 0) {
      await feed.changedSince(mark, q.wait * 1000);
      // Removed while it waited: it must hear so now, not at its next request.
      if (!(await nodes.byBearer(req.headers.authorization)))
        throw new GatehouseError('unauthorized', 'missing or wrong node token', 401);
    }
    const body = await feed.body(auth.node.role, auth.tokenHash);
    if (q.have === body.hash) return reply.code(204).send();
    return reply.type('application/json; charset=utf-8').send(feedBodyJson(body));
  });

  app.post('/edge/v1/status', async (req) => {
    const auth = await nodes.byBearer(req.headers.authorization);
    if (!auth) throw new GatehouseError('unauthorized', 'missing or wrong node token', 401);
    const report = parse(nodeReportSchema, req.body, '');
    await nodes.seen(auth.node.name, req.ip, report);
    // A public edge's tunnel figures (its sites' latency, its peers' handshakes and bytes).
    if (report.tunnel) tunnels?.take(auth.node.name, report.tunnel);
    feed.reported(auth.node.name, auth.node.role, report.applied_hash);
    return { ok: true };
  });
}
