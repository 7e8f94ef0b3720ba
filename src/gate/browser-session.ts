import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Database } from '../store/db.js';
import type { Gate } from './gate.js';
import { clientIp, cookies, hostOf, html, place, setSessionCookie } from './http.js';
import { signedInPage } from './portal.js';
import type { GateRouteContext } from './routes-context.js';
import type { NewSession } from './sessions.js';

/** A browser's session: found in its cookies, or given to it at sign-in and sent on where it was going. */

export type UserRow = Database['users'];

/**
 * The session a token stands for on `host`: well signed, not expired, its cookie scope covering
 * that host (a cookie from one domain is no session on another), and still good in the database;
 * renewed with the user's current identity.
 */
export async function sessionFrom(gate: Gate, raw: string, host: string): Promise<NewSession | undefined> {
  const claims = gate.sessions.codec.verify(raw);
  if (!claims || claims.x <= Date.now()) return undefined;
  if (host !== claims.d && !host.endsWith(`.${claims.d}`)) return undefined;
  return gate.sessions.renew(claims, claims.d, async (uid) => {
    const row = await gate.users.rowById(uid);
    return row && !row.disabled ? gate.users.identity(row) : undefined;
  });
}

/** A valid session from the request's cookies, for the host it was sent to. */
export async function currentSession(gate: Gate, req: FastifyRequest): Promise<NewSession | undefined> {
  for (const raw of cookies(req, gate.cookieName)) {
    const s = await sessionFrom(gate, raw, hostOf(req));
    if (s) return s;
  }
  return undefined;
}

/** After sign-in: back to `rd` (through a hand-over for hosts outside the cookie's scope). */
export async function sendBack(
  ctx: GateRouteContext,
  req: FastifyRequest,
  reply: FastifyReply,
  s: NewSession,
  rd: string | undefined,
): Promise<FastifyReply> {
  const { gate } = ctx;
  const url = gate.safeReturn(rd);
  if (!url) return html(reply, 200, signedInPage(ctx.brand, s.claims.n));
  const host = url.hostname.toLowerCase();
  if (gate.scopeFor(host) === s.claims.d) return reply.redirect(url.toString(), 303);
  // Another domain: it gets a session of its own, through a code that works once, for a minute.
  const code = await ctx.handovers.issue(gate.sessions.codec.sign({ ...s.claims, d: host }), host);
  const target = new URL('/.gatehouse/session', url);
  target.searchParams.set('code', code);
  target.searchParams.set('rd', url.pathname + url.search);
  return reply.redirect(target.toString(), 303);
}

/** A password sign-in (after its second factor, if any): a new session, its cookie, and back. */
export async function signIn(
  ctx: GateRouteContext,
  req: FastifyRequest,
  reply: FastifyReply,
  row: UserRow,
  rd: string,
  /** How they proved who they are: "password" or "email" (a link sent there). */
  via: 'password' | 'email' = 'password',
): Promise<FastifyReply> {
  const { gate } = ctx;
  const ip = clientIp(req);
  const scope = gate.scopeFor(hostOf(req));
  const s = await gate.sessions.create(await gate.users.identity(row), {
    ip,
    userAgent: String(req.headers['user-agent'] ?? ''),
    via,
    scope,
  });
  await gate.event('login', ip, row.username, via === 'email' ? 'by email link' : '', place(req));
  setSessionCookie(gate, req, reply, s.token, scope, gate.opts.sessionTtlMs / 1000);
  return sendBack(ctx, req, reply, s, rd);
}

/** The sign-in page's buttons for the configured OpenID Connect providers. */
export async function providerButtons(gate: Gate): Promise<{ name: string; label: string }[]> {
  return (await gate.providers.list()).map((p) => ({ name: p.name, label: p.label }));
}
