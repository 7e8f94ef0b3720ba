import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import type { Database } from '../store/db.js';
import type { Gate } from './gate.js';
import { FailureLimiter } from './limiter.js';
import { signedInPage, type Brand } from './portal.js';
import type { SessionClaims } from './sessions.js';

export type UserRow = Database['users'];

/**
 * What the gate's routes share: pages, cookies, the current session, the way back after sign-in,
 * and the sign-in throttles. nginx sets X-Real-IP and X-Forwarded-Proto; nothing else is trusted.
 */
export function portalKit(gate: Gate) {
  const brand: Brand = { name: gate.opts.brand };
  const byIp = new FailureLimiter(20, 5 * 60_000);
  const byUser = new FailureLimiter(5, 5 * 60_000);
  /** One-time codes for handing a session to a host outside the base domain. */
  const handovers = new Map<string, { token: string; host: string; expires: number }>();

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

  const providerButtons = async () =>
    (await gate.providers.list()).map((p) => ({ name: p.name, label: p.label }));

  return {
    brand,
    byIp,
    byUser,
    handovers,
    html,
    clientIp,
    secure,
    hostOf,
    setCookie,
    currentSession,
    sendBack,
    signIn,
    providerButtons,
  };
}

export type PortalKit = ReturnType<typeof portalKit>;

export function query(req: FastifyRequest, name: string): string | undefined {
  const q = req.query as Record<string, unknown>;
  const v = q[name];
  return typeof v === 'string' ? v : undefined;
}

export function cookies(req: FastifyRequest, name: string): string[] {
  const header = req.headers.cookie ?? '';
  return header
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p.startsWith(`${name}=`))
    .map((p) => p.slice(name.length + 1))
    .filter((v) => v !== '');
}
