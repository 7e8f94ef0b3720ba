import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../observe/log.js';
import type { Gate } from './gate.js';
import { FailureLimiter } from './limiter.js';
import { BasicCheck } from './basic.js';
import { OIDC_COOKIE } from './oidc.js';
import {
  enrolPage,
  linkPasswordPage,
  loginPage,
  messagePage,
  recoveryPage,
  signedInPage,
  totpPage,
  type Brand,
} from './portal.js';
import { checkTotp, newTotp, openStep, qrSvg, signStep, totpUrl } from './totp.js';
import type { SessionClaims } from './sessions.js';
import type { Database } from '../store/db.js';

type UserRow = Database['users'];

/**
 * The gate's HTTP server, behind nginx on a unix socket: the login portal (on the portal host) and
 * `/.gatehouse/*` on every guarded host (session hand-over to hosts outside the base domain,
 * sign-out). nginx sets X-Real-IP and X-Forwarded-Proto; nothing else here is trusted.
 */
export function buildGateServer(gate: Gate, log: Logger): FastifyInstance {
  const app = Fastify({ logger: false, trustProxy: false });
  const brand: Brand = { name: gate.opts.brand };
  const byIp = new FailureLimiter(20, 5 * 60_000);
  const byUser = new FailureLimiter(5, 5 * 60_000);
  /** One-time codes for handing a session to a host outside the base domain. */
  const handovers = new Map<string, { token: string; host: string; expires: number }>();

  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 16 * 1024 },
    (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );

  const html = (reply: FastifyReply, status: number, body: string) =>
    reply
      .code(status)
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('x-frame-options', 'DENY')
      .header(
        'content-security-policy',
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:",
      )
      .send(body);

  const clientIp = (req: FastifyRequest) => String(req.headers['x-real-ip'] ?? req.ip ?? '');
  const secure = (req: FastifyRequest) => req.headers['x-forwarded-proto'] === 'https';
  const hostOf = (req: FastifyRequest) =>
    String(req.headers.host ?? '')
      .replace(/:[0-9]+$/, '')
      .toLowerCase();

  const setCookie = (
    req: FastifyRequest,
    reply: FastifyReply,
    token: string,
    scope: string,
    maxAgeS: number,
  ) => {
    const domain = scope === hostOf(req) ? '' : `; Domain=${scope}`;
    reply.header(
      'set-cookie',
      `${gate.cookieName}=${token}${domain}; Path=/; Max-Age=${Math.max(0, Math.floor(maxAgeS))}; HttpOnly; SameSite=Lax${secure(req) ? '; Secure' : ''}`,
    );
  };

  /** A valid (DB-checked) session from the request's cookies, renewed with current identity. */
  const currentSession = async (
    req: FastifyRequest,
  ): Promise<{ token: string; claims: SessionClaims } | undefined> => {
    for (const raw of cookies(req, gate.cookieName)) {
      const claims = gate.sessions.codec.verify(raw);
      if (!claims || claims.x <= Date.now()) continue;
      const renewed = await gate.sessions.renew(claims, claims.d, async (uid) => {
        const row = await gate.users.rowById(uid);
        return row && !row.disabled ? gate.users.identity(row) : undefined;
      });
      if (renewed) return renewed;
    }
    return undefined;
  };

  /** After sign-in: back to `rd` (through a hand-over for hosts outside the cookie's scope). */
  const sendBack = (
    req: FastifyRequest,
    reply: FastifyReply,
    s: { token: string; claims: SessionClaims },
    rd: string | undefined,
  ) => {
    const url = gate.safeReturn(rd);
    if (!url) return html(reply, 200, signedInPage(brand, s.claims.n));
    const host = url.hostname.toLowerCase();
    if (gate.scopeFor(host) === s.claims.d) return reply.redirect(url.toString(), 303);
    // Another domain: it gets a session of its own, through a code that works once, for a minute.
    const code = randomBytes(24).toString('base64url');
    const token = gate.sessions.codec.sign({ ...s.claims, d: host });
    handovers.set(code, { token, host, expires: Date.now() + 60_000 });
    for (const [k, v] of handovers) if (v.expires < Date.now()) handovers.delete(k);
    const target = new URL('/.gatehouse/session', url);
    target.searchParams.set('code', code);
    target.searchParams.set('rd', url.pathname + url.search);
    return reply.redirect(target.toString(), 303);
  };

  app.get('/healthz', async () => ({ ok: true }));

  /**
   * Forward auth for proxies Gatehouse does not drive. Traefik sends X-Forwarded-Method/Proto/
   * Host/Uri and passes a non-2xx answer to the client (so: a redirect to the portal); nginx's
   * auth_request sends X-Original-URL and only understands 2xx/401/403 (so: 401, with the portal's
   * URL in Location for its error_page). `?group=a,b` requires membership of one of them.
   */
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
      const claims = gate.sessions.codec.verify(raw);
      if (!claims || claims.x <= Date.now()) continue;
      if (host !== claims.d && !host.endsWith(`.${claims.d}`)) continue;
      const s = await currentSession(req);
      if (!s) break;
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
      for (const [k, v] of Object.entries(values)) reply.header(k, v);
      return reply.code(200).send();
    }
    const login = gate.loginUrl(url.toString());
    if (typeof h['x-original-url'] === 'string') return reply.code(401).header('location', login).send();
    return reply.redirect(login, 302);
  });

  // nginx's auth_request for routes with basic credentials (never reachable from outside: the
  // public /.gatehouse/ location clears the header).
  const basic = new BasicCheck(gate.opts.registry);
  app.all('/.gatehouse/check', async (req, reply) => {
    const policy = String(req.headers['x-gatehouse-check'] ?? '');
    if (!policy || !basic.knows(policy)) return reply.code(403).send();
    const ip = clientIp(req);
    const challenge = `Basic realm="${hostOf(req).replace(/[^a-z0-9.-]/g, '')}", charset="UTF-8"`;
    if (!req.headers.authorization) return reply.code(401).header('www-authenticate', challenge).send();
    if (byIp.blockedFor(`basic ${ip}`) > 0) {
      await gate.event('login_throttled', ip, '', 'basic');
      return reply.code(403).send();
    }
    const user = await basic.check(policy, req.headers.authorization);
    if (!user) {
      byIp.fail(`basic ${ip}`);
      await gate.event('login_failed', ip, '', 'basic');
      return reply.code(401).header('www-authenticate', challenge).send();
    }
    return reply.code(204).header('x-gatehouse-user', user).send();
  });

  app.get('/', async (req, reply) => {
    const s = await currentSession(req);
    if (s) return html(reply, 200, signedInPage(brand, s.claims.n));
    return html(reply, 200, loginPage(brand, { rd: '' }));
  });

  const providerButtons = async () =>
    (await gate.providers.list()).map((p) => ({ name: p.name, label: p.label }));

  app.get('/login', async (req, reply) => {
    const rd = query(req, 'rd');
    const provider = query(req, 'provider');
    const s = await currentSession(req);
    // A route that wants a provider's sign-in is not served by a password session.
    if (s && (!provider || s.claims.v === provider)) {
      setCookie(req, reply, s.token, s.claims.d, (s.claims.x - Date.now()) / 1000);
      return sendBack(req, reply, s, rd);
    }
    if (provider && /^[a-z0-9-]{1,63}$/.test(provider)) {
      return reply.redirect(`/oidc/${provider}/start?rd=${encodeURIComponent(rd ?? '')}`, 303);
    }
    return html(reply, 200, loginPage(brand, { rd: rd ?? '', providers: await providerButtons() }));
  });

  // OpenID Connect: to the provider (PKCE, state and nonce kept in a signed cookie), and back.
  app.get('/oidc/:name/start', async (req, reply) => {
    const { name } = req.params as { name: string };
    const callback = `http://${hostOf(req)}/oidc/callback`;
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
      done = await gate.providers.finish(new URL(req.url, `http://${hostOf(req)}`), pending);
    } catch (err) {
      const e = err as { message: string };
      await gate.event('login_failed', ip, '', `oidc: ${e.message}`.slice(0, 200));
      reply.header('set-cookie', clear);
      return html(
        reply,
        401,
        loginPage(brand, {
          rd: '',
          error: 'Signing in with the provider failed. Please try again.',
          providers: await providerButtons(),
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
    await gate.event('login', ip, done.user.username, `via ${done.provider}`);
    setCookie(req, reply, s.token, scope, gate.opts.sessionTtlMs / 1000);
    reply.header('set-cookie', clear);
    return sendBack(req, reply, s, done.rd);
  });

  app.post('/login', async (req, reply) => {
    const body = (req.body ?? {}) as Record<string, string>;
    const username = String(body.username ?? '')
      .trim()
      .toLowerCase()
      .slice(0, 64);
    const password = String(body.password ?? '').slice(0, 256);
    const rd = String(body.rd ?? '');
    const ip = clientIp(req);
    // A form posted from another site could sign a victim into the attacker's account.
    const origin = req.headers.origin;
    if (origin && origin !== 'null' && new URL(origin).host !== String(req.headers.host)) {
      return html(reply, 403, messagePage(brand, 'Refused', 'This sign-in form was sent from another site.'));
    }
    const wait = Math.max(byIp.blockedFor(ip), byUser.blockedFor(username));
    if (wait > 0) {
      await gate.event('login_throttled', ip, username);
      reply.header('retry-after', String(wait));
      return html(
        reply,
        429,
        loginPage(brand, { rd, username, error: `Too many failed attempts. Try again in ${wait} seconds.` }),
      );
    }
    const row = username && password ? await gate.users.authenticate(username, password) : undefined;
    if (!row) {
      byIp.fail(ip);
      byUser.fail(username);
      await gate.event('login_failed', ip, username);
      return html(reply, 401, loginPage(brand, { rd, username, error: 'Wrong username or password.' }));
    }
    byUser.reset(username);
    if (row.totp_secret) {
      // Password accepted; the second step carries that fact, signed, for five minutes.
      const step = signStep(gate.sessionKey, 'login-totp', { uid: row.id, rd }, 5 * 60_000);
      return html(reply, 200, totpPage(brand, { step }));
    }
    return signIn(req, reply, row, rd);
  });

  const signIn = async (req: FastifyRequest, reply: FastifyReply, row: UserRow, rd: string) => {
    const ip = clientIp(req);
    const scope = gate.scopeFor(hostOf(req));
    const s = await gate.sessions.create(await gate.users.identity(row), {
      ip,
      userAgent: String(req.headers['user-agent'] ?? ''),
      via: 'password',
      scope,
    });
    await gate.event('login', ip, row.username);
    setCookie(req, reply, s.token, scope, gate.opts.sessionTtlMs / 1000);
    return sendBack(req, reply, s, rd);
  };

  app.post('/login/totp', async (req, reply) => {
    const body = (req.body ?? {}) as Record<string, string>;
    const token = String(body.step ?? '');
    const step = openStep(gate.sessionKey, 'login-totp', token);
    const row = typeof step?.uid === 'string' ? await gate.users.rowById(step.uid) : undefined;
    if (!step || !row || row.disabled) {
      return html(
        reply,
        400,
        loginPage(brand, { rd: '', error: 'That took too long. Please sign in again.' }),
      );
    }
    const ip = clientIp(req);
    const wait = Math.max(byIp.blockedFor(ip), byUser.blockedFor(row.username));
    if (wait > 0) {
      await gate.event('login_throttled', ip, row.username);
      reply.header('retry-after', String(wait));
      return html(
        reply,
        429,
        totpPage(brand, { step: token, error: `Too many failed attempts. Try again in ${wait} seconds.` }),
      );
    }
    if (!(await gate.secondFactor(row, String(body.code ?? '').slice(0, 32), ip))) {
      byIp.fail(ip);
      byUser.fail(row.username);
      return html(
        reply,
        401,
        totpPage(brand, { step: token, error: 'That code is not right. Try the next one.' }),
      );
    }
    byUser.reset(row.username);
    return signIn(req, reply, row, typeof step.rd === 'string' ? step.rd : '');
  });

  // Self-service two-step sign-in: the secret travels in a signed step until a code confirms it.
  app.get('/totp', async (req, reply) => {
    const s = await currentSession(req);
    if (!s) return reply.redirect(`/login?rd=${encodeURIComponent(`http://${hostOf(req)}/totp`)}`, 303);
    const { secret, url } = newTotp(gate.opts.brand, s.claims.n);
    const step = signStep(gate.sessionKey, 'totp-enrol', { uid: s.claims.u, secret }, 10 * 60_000);
    return html(reply, 200, enrolPage(brand, { qrSvg: await qrSvg(url), secret, step }));
  });

  app.post('/totp', async (req, reply) => {
    const s = await currentSession(req);
    const body = (req.body ?? {}) as Record<string, string>;
    const step = openStep(gate.sessionKey, 'totp-enrol', String(body.step ?? ''));
    if (!s || !step || step.uid !== s.claims.u || typeof step.secret !== 'string') {
      return html(
        reply,
        400,
        messagePage(brand, 'Please start again', 'This set-up page expired. Open it again.'),
      );
    }
    const secret = step.secret;
    if (checkTotp(secret, String(body.code ?? '').trim()) === undefined) {
      const url = totpUrl(gate.opts.brand, s.claims.n, secret);
      return html(
        reply,
        400,
        enrolPage(brand, {
          qrSvg: await qrSvg(url),
          secret,
          step: String(body.step),
          error: 'That code is not right.',
        }),
      );
    }
    const codes = await gate.saveTotp(s.claims.u, secret);
    await gate.event('totp_enrolled', clientIp(req), s.claims.n);
    return html(reply, 200, recoveryPage(brand, codes));
  });

  const logout = async (req: FastifyRequest, reply: FastifyReply) => {
    for (const raw of cookies(req, gate.cookieName)) {
      const claims = gate.sessions.codec.verify(raw);
      if (!claims) continue;
      if (await gate.sessions.revoke(claims.s)) await gate.event('logout', clientIp(req), claims.n);
      setCookie(req, reply, '', claims.d, 0);
    }
    const portal = gate.opts.portalHost;
    const link = portal ? { href: `http://${portal}/login`, label: 'Sign in again' } : undefined;
    return html(reply, 200, messagePage(brand, 'Signed out', 'You have been signed out.', link));
  };
  app.get('/logout', logout);
  app.post('/logout', logout);
  app.get('/.gatehouse/logout', logout);
  app.post('/.gatehouse/logout', logout);

  app.get('/.gatehouse/session', async (req, reply) => {
    const code = query(req, 'code') ?? '';
    const entry = handovers.get(code);
    handovers.delete(code);
    const host = hostOf(req);
    if (!entry || entry.expires < Date.now() || entry.host !== host) {
      return html(
        reply,
        400,
        messagePage(brand, 'Link expired', 'This sign-in link is no longer valid. Please try again.'),
      );
    }
    const claims = gate.sessions.codec.verify(entry.token) as SessionClaims;
    setCookie(req, reply, entry.token, host, (claims.x - Date.now()) / 1000);
    const rd = query(req, 'rd') ?? '/';
    // Only a path on this same host: never somewhere else.
    const path = rd.startsWith('/') && !rd.startsWith('//') && !rd.startsWith('/\\') ? rd : '/';
    return reply.redirect(path, 303);
  });

  // Temporary links, on the service's own host: admit this address, then go to the service.
  const openLink = async (req: FastifyRequest, reply: FastifyReply) => {
    const { token } = req.params as { token: string };
    const ip = clientIp(req);
    const body = (req.body ?? {}) as Record<string, string>;
    const password = req.method === 'POST' ? String(body.password ?? '').slice(0, 256) : undefined;
    if (password !== undefined) {
      const wait = byIp.blockedFor(`link ${ip}`);
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
        await gate.event('link_used', ip, '', r.link.id);
        return reply.redirect('/', 303);
      case 'password':
        if (r.wrong) {
          byIp.fail(`link ${ip}`);
          await gate.event('link_refused', ip, '', `${r.link.id} wrong password`);
        }
        return html(
          reply,
          r.wrong ? 401 : 200,
          linkPasswordPage(brand, { action, ...(r.wrong ? { error: 'Wrong password.' } : {}) }),
        );
      case 'full':
        await gate.event('link_refused', ip, '', `${r.link.id} all addresses used`);
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

function query(req: FastifyRequest, name: string): string | undefined {
  const q = req.query as Record<string, unknown>;
  const v = q[name];
  return typeof v === 'string' ? v : undefined;
}

function cookies(req: FastifyRequest, name: string): string[] {
  const header = req.headers.cookie ?? '';
  return header
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p.startsWith(`${name}=`))
    .map((p) => p.slice(name.length + 1))
    .filter((v) => v !== '');
}
