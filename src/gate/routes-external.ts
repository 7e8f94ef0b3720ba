import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BasicCheck } from './basic.js';
import { providerButtons, sendBack, sessionFrom } from './browser-session.js';
import {
  clientIp,
  cookies,
  hostOf,
  html,
  originFor,
  place,
  query,
  secure,
  setSessionCookie,
} from './http.js';
import { OIDC_COOKIE } from './oidc.js';
import { linkPasswordPage, loginPage, messagePage } from './portal.js';
import type { GateRouteContext } from './routes-context.js';

/** What the gate answers besides the portal's pages: forward auth, basic checks, OIDC, links. */
export function externalRoutes(app: FastifyInstance, ctx: GateRouteContext): void {
  forwardAuthRoute(app, ctx);
  basicCheckRoute(app, ctx);
  oidcRoutes(app, ctx);
  linkRoutes(app, ctx);
}

/**
 * Forward auth for proxies Gatehouse does not drive. Traefik sends X-Forwarded-Method/Proto/
 * Host/Uri and passes a non-2xx answer to the client (so: a redirect to the portal); nginx's
 * auth_request sends X-Original-URL and only understands 2xx/401/403 (so: 401, with the portal's
 * URL in Location for its error_page). `?group=a,b` requires membership of one of them.
 */
function forwardAuthRoute(app: FastifyInstance, { gate }: GateRouteContext): void {
  app.all('/verify', async (req, reply) => {
    const h = req.headers;
    const original =
      typeof h['x-original-url'] === 'string'
        ? h['x-original-url']
        : `${String(h['x-forwarded-proto'] ?? 'http')}://${String(h['x-forwarded-host'] ?? '')}${String(h['x-forwarded-uri'] ?? '/')}`;
    let url: URL | undefined;
    try {
      url = new URL(original);
    } catch {
      url = undefined;
    }
    if (!url || !url.hostname) {
      return reply.code(400).send({
        error: { code: 'invalid', message: 'X-Original-URL or X-Forwarded-Host/Uri: a URL is needed' },
      });
    }
    const host = url.hostname.toLowerCase();
    const groups = (query(req, 'group') ?? '').split(',').filter(Boolean);
    for (const raw of cookies(req, gate.cookieName)) {
      // The very token whose scope covers the guarded host, checked in the database.
      const s = await sessionFrom(gate, raw, host);
      if (!s) continue;
      if (groups.length > 0 && !groups.some((g) => s.claims.g.includes(g))) return reply.code(403).send();
      const c = s.claims;
      const values: Record<string, string> = {
        'Remote-User': c.n,
        'Remote-Email': c.e,
        'Remote-Name': c.fn,
        'Remote-Groups': c.g.join(','),
        'X-User-ID': c.u,
        'X-Username': c.n,
        'X-Email': c.e,
        'X-Groups': c.g.join(','),
        'X-User-First-Name': c.f,
        'X-User-Last-Name': c.l,
      };
      // Header bytes are the UTF-8 of the value, as nginx sends them on its own routes (Node writes
      // header strings as Latin-1, and refuses characters beyond it).
      for (const [k, v] of Object.entries(values)) reply.header(k, Buffer.from(v, 'utf8').toString('latin1'));
      return reply.code(200).send();
    }
    const login = await gate.loginUrl(url.toString());
    if (typeof h['x-original-url'] === 'string') return reply.code(401).header('location', login).send();
    return reply.redirect(login, 302);
  });
}

/**
 * nginx's auth_request for routes with basic credentials (never reachable from outside: the
 * public /.gatehouse/ location clears the header).
 */
function basicCheckRoute(app: FastifyInstance, { gate, byIp }: GateRouteContext): void {
  const basic = new BasicCheck(gate.opts.registry);
  app.all('/.gatehouse/check', async (req, reply) => {
    const policy = String(req.headers['x-gatehouse-check'] ?? '');
    if (!policy || !basic.knows(policy)) return reply.code(403).send();
    const ip = clientIp(req);
    const challenge = `Basic realm="${hostOf(req).replace(/[^a-z0-9.-]/g, '')}", charset="UTF-8"`;
    if (!req.headers.authorization) return reply.code(401).header('www-authenticate', challenge).send();
    if ((await byIp.blockedFor(`basic ${ip}`)) > 0) {
      await gate.event('login_throttled', ip, '', 'basic', place(req));
      return reply.code(403).send();
    }
    const user = await basic.check(policy, req.headers.authorization);
    if (!user) {
      await byIp.fail(`basic ${ip}`);
      await gate.event('login_failed', ip, '', 'basic', place(req));
      return reply.code(401).header('www-authenticate', challenge).send();
    }
    return reply.code(204).header('x-gatehouse-user', user).send();
  });
}

/** OpenID Connect: to the provider (PKCE, state and nonce kept in a signed cookie), and back. */
function oidcRoutes(app: FastifyInstance, ctx: GateRouteContext): void {
  const { gate, brand, log } = ctx;
  app.get('/oidc/:name/start', async (req, reply) => {
    const { name } = req.params as { name: string };
    const callback = `${originFor(gate, req)}/oidc/callback`;
    let started: { url: string; pending: string };
    try {
      started = await gate.providers.start(name, callback, query(req, 'rd') ?? '');
    } catch (err) {
      const e = err as { status?: number; message: string };
      log.warn({ provider: name, err: e.message }, 'OIDC sign-in could not start');
      return html(
        reply,
        e.status === 404 ? 404 : 503,
        messagePage(
          brand,
          'Sign-in unavailable',
          e.status === 404
            ? 'There is no such sign-in provider.'
            : 'The sign-in provider is not answering. Please try again shortly.',
        ),
      );
    }
    reply.header(
      'set-cookie',
      `${OIDC_COOKIE}=${started.pending}; Path=/oidc; Max-Age=600; HttpOnly; SameSite=Lax${secure(req) ? '; Secure' : ''}`,
    );
    return reply.redirect(started.url, 303);
  });

  app.get('/oidc/callback', async (req, reply) => {
    const pending = cookies(req, OIDC_COOKIE)[0] ?? '';
    const clear = `${OIDC_COOKIE}=; Path=/oidc; Max-Age=0; HttpOnly; SameSite=Lax`;
    const ip = clientIp(req);
    let done: Awaited<ReturnType<typeof gate.providers.finish>>;
    try {
      done = await gate.providers.finish(new URL(req.url, originFor(gate, req)), pending);
    } catch (err) {
      const e = err as { message: string };
      await gate.event('login_failed', ip, '', `oidc: ${e.message}`.slice(0, 200), place(req));
      reply.header('set-cookie', clear);
      return html(
        reply,
        401,
        loginPage(brand, {
          rd: '',
          error: 'Signing in with the provider failed. Please try again.',
          providers: await providerButtons(gate),
        }),
      );
    }
    const scope = gate.scopeFor(hostOf(req));
    const s = await gate.sessions.create(done.identity, {
      ip,
      userAgent: String(req.headers['user-agent'] ?? ''),
      via: done.provider,
      scope,
    });
    await gate.event('login', ip, done.user.username, `via ${done.provider}`, place(req));
    setSessionCookie(gate, req, reply, s.token, scope, gate.opts.sessionTtlMs / 1000);
    reply.header('set-cookie', clear);
    return sendBack(ctx, req, reply, s, done.rd);
  });
}

/** Temporary links, on the service's own host: admit this address, then go to the service. */
function linkRoutes(app: FastifyInstance, ctx: GateRouteContext): void {
  const { gate, brand, byIp } = ctx;
  const openLink = async (req: FastifyRequest, reply: FastifyReply) => {
    const { token } = req.params as { token: string };
    const ip = clientIp(req);
    const body = (req.body ?? {}) as Record<string, string>;
    const password = req.method === 'POST' ? String(body.password ?? '').slice(0, 256) : undefined;
    if (password !== undefined) {
      const wait = await byIp.blockedFor(`link ${ip}`);
      if (wait > 0) {
        reply.header('retry-after', String(wait));
        return html(reply, 429, messagePage(brand, 'Too many attempts', `Try again in ${wait} seconds.`));
      }
    }
    const r = await gate.links.open(
      token.slice(0, 128),
      ip,
      String(req.headers['user-agent'] ?? ''),
      password,
    );
    const action = `/.gatehouse/link/${encodeURIComponent(token)}`;
    switch (r.kind) {
      case 'admitted':
        await gate.event('link_used', ip, '', r.link.id, place(req));
        return reply.redirect('/', 303);
      case 'password':
        if (r.wrong) {
          await byIp.fail(`link ${ip}`);
          await gate.event('link_refused', ip, '', `${r.link.id} wrong password`, place(req));
        }
        return html(
          reply,
          r.wrong ? 401 : 200,
          linkPasswordPage(brand, { action, ...(r.wrong ? { error: 'Wrong password.' } : {}) }),
        );
      case 'full':
        await gate.event('link_refused', ip, '', `${r.link.id} all addresses used`, place(req));
        return html(
          reply,
          403,
          messagePage(
            brand,
            'Link already used',
            'This link has been opened from as many places as it allows. Ask for a new one.',
          ),
        );
      case 'expired':
      case 'revoked':
        return html(
          reply,
          410,
          messagePage(
            brand,
            r.kind === 'expired' ? 'Link expired' : 'Link withdrawn',
            r.kind === 'expired'
              ? 'This link has expired. Ask for a new one.'
              : 'This link has been withdrawn. Ask for a new one.',
          ),
        );
      default:
        return html(
          reply,
          404,
          messagePage(brand, 'Unknown link', 'This link is not valid. Check that it was copied whole.'),
        );
    }
  };
  app.get('/.gatehouse/link/:token', openLink);
  app.post('/.gatehouse/link/:token', openLink);
}
