import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import type { Database } from '../store/db.js';
import type { EventPlace, Gate } from './gate.js';
import { FailureLimiter } from './limiter.js';
import { signedInPage, type Brand } from './portal.js';
import type { SessionClaims } from '../model/session.js';

export type UserRow = Database['users'];

/**
 * What the gate's routes share: pages, cookies, the current session, the way back after sign-in,
 * and the sign-in throttles. nginx sets X-Real-IP and X-Forwarded-Proto; nothing else is trusted.
 */
export function portalKit(gate: Gate) {
  const brand: Brand = { name: gate.opts.brand };
  const byIp = new FailureLimiter(20, 5 * 60_000);
  const byUser = new FailureLimiter(5, 5 * 60_000);
  /** Second-factor failures per user: a correct password does not clear them. */
  const byTotp = new FailureLimiter(5, 5 * 60_000);
  /** One-time codes for handing a session to a host outside the base domain. */
  const handovers = new Map<string, { token: string; host: string; expires: number }>();

  const html = (reply: FastifyReply, status: number, body: string) =>
    reply
      .code(status)
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('x-frame-options', 'DENY')
      .header('referrer-policy', 'same-origin')
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

  /**
   * Where a request went, for its security events: the host and the path without the query. A
   * link's path is its token: only the prefix is kept. nginx's auth subrequests name the original
   * request in X-Gatehouse-Uri (raw, so no line breaks; only nginx sets it on check requests).
   */
  const place = (req: FastifyRequest): EventPlace => {
    const check = req.url.startsWith('/.gatehouse/check') && req.headers['x-gatehouse-check'];
    const uri = check ? String(req.headers['x-gatehouse-uri'] ?? '') : req.url;
    const path = uri.split('?')[0] ?? '';
    const link = '/.gatehouse/link/';
    return { host: hostOf(req), path: path.startsWith(link) ? link : path };
  };

  /**
   * `scheme://host[:port]` for a host as the browser reaches it: `public_url`'s scheme and port, else
   * this request's (nginx passes the Host header with its port).
   */
  const originFor = (req: FastifyRequest, host = hostOf(req)) => {
    const pub = gate.opts.publicOrigin;
    if (pub) return `${pub.scheme}://${host}${pub.port}`;
    const port = /:[0-9]{1,5}$/.exec(String(req.headers.host ?? ''))?.[0] ?? '';
    return `${secure(req) ? 'https' : 'http'}://${host}${port}`;
  };

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

  /**
   * The session a token stands for on `host`: well signed, not expired, its cookie scope covering
   * that host (a cookie from one domain is no session on another), and still good in the database;
   * renewed with the user's current identity.
   */
  const sessionFrom = async (
    raw: string,
    host: string,
  ): Promise<{ token: string; claims: SessionClaims } | undefined> => {
    const claims = gate.sessions.codec.verify(raw);
    if (!claims || claims.x <= Date.now()) return undefined;
    if (host !== claims.d && !host.endsWith(`.${claims.d}`)) return undefined;
    return gate.sessions.renew(claims, claims.d, async (uid) => {
      const row = await gate.users.rowById(uid);
      return row && !row.disabled ? gate.users.identity(row) : undefined;
    });
  };

  /** A valid session from the request's cookies, for the host it was sent to. */
  const currentSession = async (
    req: FastifyRequest,
  ): Promise<{ token: string; claims: SessionClaims } | undefined> => {
    for (const raw of cookies(req, gate.cookieName)) {
      const s = await sessionFrom(raw, hostOf(req));
      if (s) return s;
    }
    return undefined;
  };

  /**
   * A browser's form post must come from the portal's own pages (login CSRF would sign a victim
   * into the attacker's account). The pages' referrer policy (`same-origin`) makes browsers send
   * their real Origin with them; `Origin: null` is an opaque origin (a sandboxed frame, a page that
   * hides its origin, a redirect across sites) and is refused. Clients that send no Origin at all
   * (scripts) are not browsers.
   */
  const sameOrigin = (req: FastifyRequest): boolean => {
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false;
    }
    if (url.origin === 'null' || url.hostname.toLowerCase() !== hostOf(req)) return false;
    // Behind another proxy the browser's origin is public_url's; else it is the request's own.
    return url.origin === originFor(req) || url.host === String(req.headers.host ?? '').toLowerCase();
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
    for (const [k, v] of handovers) if (v.expires < Date.now()) handovers.delete(k);
    // Bounded: beyond this many pending hand-overs the oldest go.
    while (handovers.size >= 10_000) handovers.delete(handovers.keys().next().value as string);
    handovers.set(code, { token, host, expires: Date.now() + 60_000 });
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
    await gate.event('login', ip, row.username, '', place(req));
    setCookie(req, reply, s.token, scope, gate.opts.sessionTtlMs / 1000);
    return sendBack(req, reply, s, rd);
  };

  const providerButtons = async () =>
    (await gate.providers.list()).map((p) => ({ name: p.name, label: p.label }));

  return {
    brand,
    byIp,
    byUser,
    byTotp,
    handovers,
    sameOrigin,
    sessionFrom,
    html,
    clientIp,
    secure,
    hostOf,
    place,
    originFor,
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
