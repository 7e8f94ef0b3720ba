import type { FastifyInstance } from 'fastify';
import type { EdgeFeed } from '../edge/feed.js';
import type { ApiContext } from './context.js';
import type { EdgeEvent } from './views/index.js';

/** Keeps proxies and browsers from closing an idle stream. */
const KEEPALIVE_MS = 15_000;

/**
 * GET /api/v1/stream: server-sent events for the web UI. `version` (a registry change: which
 * services), `edge` (what nginx serves: applied version, upstreams down, last error — an upstream
 * going down shows within its health-check interval; one nginx could not reach, within a second), `security` (sign-ins, denials, links…) and
 * `node` (an edge node reported what it applied).
 */
export async function streamRoutes(app: FastifyInstance, ctx: ApiContext, feed?: EdgeFeed): Promise<void> {
  const open = new Set<() => void>();
  // Streams never end by themselves: closing the API ends them, or the close would wait forever.
  app.addHook('preClose', async () => {
    for (const end of open) end();
  });
  app.get('/stream', (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const send = (event: string, data: unknown) =>
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    let lastEdge = '';
    const edge = () => {
      const s = ctx.edge.getStatus();
      const view = {
        appliedVersion: s.appliedVersion,
        downServers: s.downServers,
        checkedServers: s.checkedServers,
        failingServers: s.failingServers,
        lastError: s.lastError ?? null,
        proxy: s.proxy,
      } satisfies EdgeEvent;
      const key = JSON.stringify(view);
      if (key === lastEdge) return;
      lastEdge = key;
      send('edge', view);
    };
    send('hello', { version: ctx.registry.version });
    edge();
    const offs = [
      ctx.registry.onChange((e) => send('version', e)),
      ctx.edge.onSettled(edge),
      ctx.gate.onEvent((e) => send('security', e)),
      ...(feed ? [feed.onReported((name) => send('node', { name }))] : []),
    ];
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    keepalive.unref();
    const end = () => {
      clearInterval(keepalive);
      for (const off of offs) off();
      open.delete(end);
      res.end();
    };
    open.add(end);
    req.raw.on('close', end);
  });
}
