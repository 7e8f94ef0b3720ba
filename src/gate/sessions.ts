import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Identity } from '../model/identity.js';
import type { Database, Db } from '../store/db.js';
import { writeFileAtomic } from '../store/files.js';

/**
 * Signed sessions. The cookie is `base64url(JSON claims) "." base64url(HMAC-SHA256)`; nginx checks it
 * in njs on every request (no database, no round trip) and the gate mints it. Revocation reaches
 * nginx through small files it can test for in one system call: `r/<session id>` (revoked) and
 * `u/<user id>` (sessions issued before the time it holds are stale).
 */
export interface SessionClaims {
  /** Session id. */
  s: string;
  /** User id, username, email, display name, first and last name, groups. */
  u: string;
  n: string;
  e: string;
  fn: string;
  f: string;
  l: string;
  g: string[];
  /** Issued and expiry times, ms since the epoch. */
  i: number;
  x: number;
  /** The cookie's scope: the base domain (and its subdomains) or one host. */
  d: string;
  /** How the user signed in: "password" or an OIDC provider's name. */
  v: string;
}

export const SESSION_COOKIE = 'gh_session';

export class SessionCodec {
  constructor(private readonly key: string) {}

  sign(claims: SessionClaims): string {
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  /** The claims of a well-signed token, expired or not; undefined for anything else. */
  verify(token: string): SessionClaims | undefined {
    const dot = token.indexOf('.');
    if (dot <= 0) return undefined;
    const body = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1));
    const expected = Buffer.from(this.mac(body));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    try {
      const c = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as SessionClaims;
      return typeof c.s === 'string' && typeof c.u === 'string' && typeof c.x === 'number' ? c : undefined;
    } catch {
      return undefined;
    }
  }

  private mac(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}

/** Files nginx reads to learn about revocations (see the class comment above). */
export class RevocationFiles {
  constructor(readonly dir: string) {}

  async init(): Promise<void> {
    // Workers (an unprivileged user) test for names here; they need not list the directories.
    await mkdir(join(this.dir, 'r'), { recursive: true, mode: 0o711 });
    await mkdir(join(this.dir, 'u'), { recursive: true, mode: 0o711 });
  }

  async revokeSession(sid: string, expiresMs: number): Promise<void> {
    await this.write(join(this.dir, 'r', safeName(sid)), String(expiresMs));
  }

  /** Sessions of this user issued before `notBeforeMs` stop passing. */
  async userNotBefore(uid: string, notBeforeMs: number): Promise<void> {
    await this.write(join(this.dir, 'u', safeName(uid)), String(notBeforeMs));
  }

  /** Removes revocation files of sessions that have expired anyway. */
  async prune(nowMs: number): Promise<number> {
    let removed = 0;
    for (const name of await readdir(join(this.dir, 'r')).catch(() => [])) {
      const file = join(this.dir, 'r', name);
      const exp = Number(await readFile(file, 'utf8').catch(() => '0'));
      if (exp < nowMs) {
        await rm(file, { force: true });
        removed++;
      }
    }
    return removed;
  }

  private async write(file: string, content: string): Promise<void> {
    // Written whole then renamed: a worker never reads half a number.
    await writeFileAtomic(file, content, 0o644);
  }
}

function safeName(id: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new Error(`unsafe id ${id}`);
  return id;
}

export interface NewSession {
  token: string;
  claims: SessionClaims;
}

/** Session records (for listing and revoking) plus the signing and the revocation files. */
export class Sessions {
  constructor(
    private readonly db: Db,
    readonly codec: SessionCodec,
    readonly files: RevocationFiles,
    private readonly ttlMs: number,
  ) {}

  async create(
    who: Identity,
    opts: { ip: string; userAgent: string; via: string; scope: string },
  ): Promise<NewSession> {
    const now = Date.now();
    const sid = randomBytes(18).toString('base64url');
    await this.db
      .insertInto('sessions')
      .values({
        id: sid,
        user_id: who.uid,
        created_at: new Date(now).toISOString(),
        expires_at: new Date(now + this.ttlMs).toISOString(),
        revoked_at: null,
        ip: opts.ip,
        user_agent: opts.userAgent.slice(0, 512),
        via: opts.via,
      })
      .execute();
    const claims = claimsFor(who, sid, now, now + this.ttlMs, opts.scope, opts.via);
    return { token: this.codec.sign(claims), claims };
  }

  /**
   * A token for the same session with the user's current identity, if the session is still good in
   * the database (not revoked, not expired, user enabled). Used when nginx found a token stale.
   */
  async renew(
    claims: SessionClaims,
    scope: string,
    identity: (uid: string) => Promise<Identity | undefined>,
  ): Promise<NewSession | undefined> {
    const row = await this.db
      .selectFrom('sessions')
      .selectAll()
      .where('id', '=', claims.s)
      .executeTakeFirst();
    const now = Date.now();
    if (!row || row.revoked_at || Date.parse(row.expires_at) <= now || row.user_id !== claims.u)
      return undefined;
    const who = await identity(row.user_id);
    if (!who) return undefined;
    const next = claimsFor(who, row.id, now, Date.parse(row.expires_at), scope, row.via);
    return { token: this.codec.sign(next), claims: next };
  }

  async revoke(sid: string): Promise<boolean> {
    const row = await this.db.selectFrom('sessions').selectAll().where('id', '=', sid).executeTakeFirst();
    if (!row) return false;
    await this.db
      .updateTable('sessions')
      .set({ revoked_at: new Date().toISOString() })
      .where('id', '=', sid)
      .execute();
    await this.files.revokeSession(sid, Date.parse(row.expires_at));
    return true;
  }

  /** Ends every live session of a user, on every edge (revocation files). */
  async revokeUser(uid: string): Promise<void> {
    const rows = await this.db
      .selectFrom('sessions')
      .select(['id', 'expires_at'])
      .where('user_id', '=', uid)
      .where('revoked_at', 'is', null)
      .execute();
    await this.db
      .updateTable('sessions')
      .set({ revoked_at: new Date().toISOString() })
      .where('user_id', '=', uid)
      .where('revoked_at', 'is', null)
      .execute();
    for (const r of rows) await this.files.revokeSession(r.id, Date.parse(r.expires_at));
  }

  async list(userId?: string): Promise<Database['sessions'][]> {
    let q = this.db.selectFrom('sessions').selectAll().where('revoked_at', 'is', null);
    if (userId) q = q.where('user_id', '=', userId);
    const rows = await q.orderBy('created_at', 'desc').execute();
    const now = Date.now();
    return rows.filter((r) => Date.parse(r.expires_at) > now);
  }

  /** A user's identity changed: tokens issued until now are stale (renewed through the portal). */
  async userChanged(uid: string, removed: boolean): Promise<void> {
    if (removed) {
      // Far in the future: nothing issued for this id passes again.
      await this.files.userNotBefore(uid, 8_640_000_000_000_000);
      return;
    }
    await this.files.userNotBefore(uid, Date.now());
  }

  async prune(): Promise<void> {
    const now = new Date().toISOString();
    await this.db.deleteFrom('sessions').where('expires_at', '<', now).execute();
    await this.files.prune(Date.now());
  }
}

function claimsFor(
  who: Identity,
  sid: string,
  issued: number,
  expires: number,
  scope: string,
  via: string,
): SessionClaims {
  return {
    s: sid,
    u: who.uid,
    n: who.username,
    e: who.email,
    fn: who.name,
    f: who.first_name,
    l: who.last_name,
    g: who.groups,
    i: issued,
    x: expires,
    d: scope,
    v: via,
  };
}
