import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { compile } from '../../compile/compile.js';
import type { EdgeConfig } from '../../compile/edge-config.js';
import { nodeCreateSchema, nodeReportSchema, type NodeStore } from '../../edge/nodes.js';
import { GatehouseError } from '../../model/errors.js';
import { slugSchema } from '../../model/values.js';
import { parse } from '../http-errors.js';
import type { ApiContext } from './context.js';

const nameParams = z.strictObject({ name: slugSchema });
const configQuery = z.strictObject({
  have: z
    .string()
    .regex(/^[0-9a-f]{64}$|^$/, 'a config hash')
    .default(''),
  wait: z.coerce.number().int().min(0).max(60).default(25),
});

/** Nodes (admin) under /api/v1/nodes. */
export async function nodeRoutes(app: FastifyInstance, nodes: NodeStore): Promise<void> {
  app.get('/nodes', async () => ({ nodes: await nodes.list() }));
  app.post('/nodes', async (req, reply) => {
    const input = parse(nodeCreateSchema, req.body, '');
    const { node, token } = await nodes.add(input);
    const command = `gatehouse edge --control <this API's URL> --node-token ${token}`;
    return reply.code(201).send({ node, token, command });
  });
  app.delete('/nodes/:name', async (req) => {
    const { name } = parse(nameParams, req.params, 'params');
    await nodes.remove(name);
    return { deleted: name };
  });
}

/**
 * What edge agents call, with their node token (not the admin token): the config, long-polled (the
 * control plane never connects to an edge, so edges behind NAT work), and what they applied.
 */
export async function edgeRoutes(app: FastifyInstance, ctx: ApiContext, nodes: NodeStore): Promise<void> {
  /** A node's config: a public edge serves what is exposed publicly, a LAN edge what is exposed to the LAN. */
  const current = (role: string): EdgeConfig =>
    compile({
      services: [...ctx.registry.state().values()]
        .map((r) => r.service)
        .filter((s) => (s.expose ?? 'both') === 'both' || s.expose === role),
      listeners: { http: ctx.settings.http_port, https: ctx.settings.https_port },
    });
  const changed = (ms: number) =>
    new Promise<void>((resolve) => {
      const off = ctx.registry.onChange(() => {
        clearTimeout(timer);
        off();
        resolve();
      });
      const timer = setTimeout(() => {
        off();
        resolve();
      }, ms);
    });

  app.get('/edge/v1/config', async (req, reply) => {
    const node = await nodes.byToken(req.headers.authorization);
    if (!node) throw new GatehouseError('unauthorized', 'missing or wrong node token', 401);
    const q = parse(configQuery, req.query, 'query');
    await nodes.seen(node.name, req.ip);
    let cfg = current(node.role);
    if (q.have === cfg.hash && q.wait > 0) {
      await changed(q.wait * 1000);
      cfg = current(node.role);
    }
    if (q.have === cfg.hash) return reply.code(204).send();
    return { version: ctx.registry.version, hash: cfg.hash, config: cfg };
  });

  app.post('/edge/v1/status', async (req) => {
    const node = await nodes.byToken(req.headers.authorization);
    if (!node) throw new GatehouseError('unauthorized', 'missing or wrong node token', 401);
    const report = parse(nodeReportSchema, req.body, '');
    await nodes.seen(node.name, req.ip, report);
    return { ok: true };
  });
}
