import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Gate } from '../gate/gate.js';
import { FailureLimiter } from '../gate/limiter.js';
import { GatehouseError } from '../model/errors.js';
import { parse } from './http-errors.js';
import { hasAdmin } from '../store/db.js';
import type { SignedIn } from './views/index.js';

/** The management API's own cookie: an admin user's gate session, for this API's origin only. */
export const ADMIN_COOKIE = 'gh_admin';
/**
 * Cookie-authenticated changes must carry this header: a cross-site form cannot set it, and a
 * cross-site script may not without a CORS preflight this API never grants.
 */
export const CSRF_HEADER = 'x-gatehouse-csrf';

const signInSchema = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(256),
  /** A TOTP code or a recovery code, for users with a second factor. */
  totp: z.string().max(32).optional(),
});

export interface AdminIdentity {
  uid: string;
  username: string;
  sid: string;
}

function cookieOf(req: FastifyRequest): string | undefined {
  const m = new RegExp(`(?:^|;\\s*)${ADMIN_COOKIE}=([^;]+)`).exec(req.headers.cookie ?? '');
  return m?.[1];
}

/**
 * The admin a request's cookie signs in as: a valid signature, a session neither revoked nor
 * expired in the database, a user still enabled and still an admin. Checked on every request (the
 * API is not a hot path), so a revocation or a demotion takes effect at once.
 */
export async function adminFromCookie(gate: Gate, req: FastifyRequest): Promise<AdminIdentity | undefined> {
  const raw = cookieOf(req);
  if (!raw) return undefined;
  const claims = gate.sessions.codec.verify(decodeURIComponent(raw));
  if (!claims || claims.v !== 'api' || claims.x <= Date.now()) return undefined;
  const db = gate.opts.db;
  const session = await db.selectFrom('sessions').selectAll().where('id', '=', claims.s).executeTakeFirst();
  if (!session || session.revoked_at || Date.parse(session.expires_at) <= Date.now()) return undefined;
  const user = await gate.users.rowById(session.user_id);
  if (!user || user.disabled || user.role !== 'admin') return undefined;
  return { uid: user.id, username: user.username, sid: session.id };
}

/**
 * Sign-in to the management API with a Gatehouse admin user (password, and TOTP when enrolled),
 * for the web UI: a session cookie for this API's origin, HttpOnly and SameSite=Strict. Throttled
 * per address and per user, as the portal is.
 */
export async function sessionRoutes(app: FastifyInstance, gate: Gate): Promise<void> {
  // In the store, apart from the portal's: every replica counts the same failures.
  const byIp = new FailureLimiter(gate.opts.db, 'api-ip', 20, 5 * 60_000);
  const byUser = new FailureLimiter(gate.opts.db, 'api-user', 5, 5 * 60_000);
  const refuse = async (reply: FastifyReply, ip: string, username: string, message: string) => {
    await byIp.fail(ip);
    await byUser.fail(username);
    await gate.event('login_failed', ip, username, 'api');
    return reply.code(401).send(new GatehouseError('unauthorized', message, 401).toJSON());
  };

  app.post('/session', async (req, reply) => {
    const body = parse(signInSchema, req.body, '');
    const username = body.username.trim().toLowerCase();
    const ip = req.ip;
    const wait = Math.max(await byIp.blockedFor(ip), await byUser.blockedFor(username));
    if (wait > 0) {
      await gate.event('login_throttled', ip, username, 'api');
      return reply
        .code(429)
        .header('retry-after', String(wait))
        .send(
          new GatehouseError('throttled', `too many failed attempts; try again in ${wait} s`, 429).toJSON(),
        );
    }
    const row = await gate.users.authenticate(username, body.password);
    if (!row) return refuse(reply, ip, username, 'wrong username or password');
    if (row.totp_secret) {
      if (!body.totp)
        return reply
          .code(401)
          .send(
            new GatehouseError(
              'totp_required',
              'totp: enter the code from your authenticator app',
              401,
            ).toJSON(),
          );
      if (!(await gate.secondFactor(row, body.totp, ip)))
        return refuse(reply, ip, username, 'totp: wrong code');
    }
    if (row.role !== 'admin')
      return reply
        .code(403)
        .send(
          new GatehouseError('forbidden', 'only admin users may sign in to the management API', 403).toJSON(),
        );
    await byUser.reset(username);
    const who = await gate.users.identity(row);
    const s = await gate.sessions.create(who, {
      ip,
      userAgent: String(req.headers['user-agent'] ?? ''),
      via: 'api',
      scope: String(req.headers.host ?? ''),
    });
    await gate.event('login', ip, username, 'api');
    req.actor = row.username;
    req.via = 'session';
    const secure = req.protocol === 'https' ? '; Secure' : '';
    const maxAge = Math.max(1, Math.floor((s.claims.x - Date.now()) / 1000));
    return reply
      .header(
        'set-cookie',
        `${ADMIN_COOKIE}=${encodeURIComponent(s.token)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure}`,
      )
      .send({ username: row.username, role: row.role, csrf_header: CSRF_HEADER } satisfies SignedIn);
  });

  app.get('/session', async (req, reply) => {
    const who = await adminFromCookie(gate, req);
    if (!who) {
      const body = new GatehouseError('unauthorized', 'not signed in', 401).toJSON();
      // First run: the sign-in page shows how to make the first admin (nothing else is told).
      if (!(await hasAdmin(gate.opts.db))) Object.assign(body.error, { setup_needed: true });
      return reply.code(401).send(body);
    }
    return { username: who.username, role: 'admin', csrf_header: CSRF_HEADER } satisfies SignedIn;
  });

  app.delete('/session', async (req, reply) => {
    const who = await adminFromCookie(gate, req);
    if (who) {
      req.actor = who.username;
      req.via = 'session';
      await gate.sessions.revoke(who.sid);
      await gate.event('logout', req.ip, who.username, 'api');
    } else req.auditSkip = true;
    return reply.header('set-cookie', `${ADMIN_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`).send({
      ok: true,
    });
  });
}
