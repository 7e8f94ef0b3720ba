import type { FastifyInstance } from 'fastify';
import type { EdgeFeed } from '../edge/feed.js';
import type { ApiContext } from './context.js';
import { eventStreams } from './event-stream.js';
import type { EdgeEvent } from './views/index.js';

/**
 * GET /api/v1/stream: server-sent events for the web UI. `version` (a registry change: which
 * services), `edge` (what nginx serves: applied version, upstreams down, last error — an upstream
 * going down shows within its health-check interval; one nginx could not reach, within a second), `security` (sign-ins, denials, links…) and
 * `node` (an edge node reported what it applied).
 */
export async function streamRoutes(app: FastifyInstance, ctx: ApiContext, feed?: EdgeFeed): Promise<void> {
  const stream = eventStreams(app);
  app.get('/stream', (req, reply) => {
    const { send, onEnd } = stream(req, reply);
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
    for (const off of offs) onEnd(off);
  });
}
