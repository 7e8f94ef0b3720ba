import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../observe/log.js';
import type { Gate } from './gate.js';
import { html } from './http.js';
import { messagePage } from './portal.js';
import { gateRouteContext } from './routes-context.js';
import { externalRoutes } from './routes-external.js';
import { portalRoutes } from './routes-portal.js';
import { magicLinkRoutes } from './routes-magic.js';
import { signOutRoutes } from './routes-sign-out.js';

/**
 * The gate's HTTP server, behind nginx on a unix socket: the login portal (on the portal host),
 * `/verify` for other proxies, and `/.gatehouse/*` on every guarded host (session hand-over, links,
 * sign-out, nginx's basic-credential checks).
 */
export function buildGateServer(gate: Gate, log: Logger): FastifyInstance {
  const app = Fastify({ logger: false, trustProxy: false });
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 16 * 1024 },
    (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );

  const ctx = gateRouteContext(gate, log);
  const { brand } = ctx;
  app.get('/healthz', async () => ({ ok: true }));
  portalRoutes(app, ctx);
  magicLinkRoutes(app, ctx);
  signOutRoutes(app, ctx);
  externalRoutes(app, ctx);
  app.setNotFoundHandler((_req, reply) =>
    html(reply, 404, messagePage(brand, 'Not found', 'There is no such page.')),
  );
  app.setErrorHandler((err: { statusCode?: number; message: string }, _req, reply) => {
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    if (status >= 500) log.error({ err: err.message }, 'gate request failed');
    return html(
      reply,
      status,
      messagePage(brand, 'Something went wrong', status >= 500 ? 'Please try again.' : err.message),
    );
  });
  return app;
}
