import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Identity } from '../model/identity.js';
import {
  NEVER_AGAIN_MS,
  sessionClaims,
  STATE_DIR,
  stateFile,
  stateTime,
  type SessionClaims,
  type SessionCodec,
} from '../model/session.js';
import type { Database, Db } from '../store/db.js';
import { writeFileAtomic } from '../store/files.js';

/**
 * Sessions: the gate mints signed tokens that nginx checks in Lua on every request (no database, no
 * round trip), and tells nginx of revocations through small files (the truth nginx loads when it
 * starts) and, as each is written, its shared memory (see onWrite). Token format and file layout:
 * model/session.ts.
 */

/** Files nginx reads to learn about revocations (`r/` and `u/`, see STATE_DIR). */
export class RevocationFiles {
  /**
   * Told of each revocation once its file is written, and awaited before the change is reported
   * done: nginx's shared memory holds it before the next request (see drivers/nginx/revocations.ts).
   */
  private readonly listeners: ((kind: 'r' | 'u', id: string, ms: number) => Promise<void>)[] = [];

  constructor(readonly dir: string) {}

  onWrite(listener: (kind: 'r' | 'u', id: string, ms: number) => Promise<void>): void {
    this.listeners.push(listener);
  }

  async init(): Promise<void> {
    // Workers (an unprivileged user) test for names here; they need not list the directories.
    await mkdir(join(this.dir, STATE_DIR.revoked), { recursive: true, mode: 0o711 });
    await mkdir(join(this.dir, STATE_DIR.userNotBefore), { recursive: true, mode: 0o711 });
  }

  async revokeSession(sid: string, expiresMs: number): Promise<void> {
    await this.write(stateFile.revoked(this.dir, sid), stateTime(expiresMs));
    await this.tell(STATE_DIR.revoked, sid, expiresMs);
  }

  /** Sessions of this user issued before `notBeforeMs` stop passing. */
  async userNotBefore(uid: string, notBeforeMs: number): Promise<void> {
    await this.write(stateFile.userNotBefore(this.dir, uid), stateTime(notBeforeMs));
    await this.tell(STATE_DIR.userNotBefore, uid, notBeforeMs);
  }

  private async tell(kind: 'r' | 'u', id: string, ms: number): Promise<void> {
    for (const l of this.listeners) await l(kind, id, ms);
  }

  /** Removes revocation files of sessions that have expired anyway. */
  async prune(nowMs: number): Promise<number> {
    let removed = 0;
    const dir = join(this.dir, STATE_DIR.revoked);
    for (const name of await readdir(dir).catch(() => [])) {
      const file = join(dir, name);
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
    const claims = sessionClaims(who, sid, now, now + this.ttlMs, opts.scope, opts.via);
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
    const next = sessionClaims(who, row.id, now, Date.parse(row.expires_at), scope, row.via);
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

  /** A revocation another replica made: the same files here, so this nginx and its edges refuse too. */
  async revokedElsewhere(kind: 'r' | 'u', id: string, ms: number): Promise<void> {
    if (kind === 'r') await this.files.revokeSession(id, ms);
    else await this.files.userNotBefore(id, ms);
  }

  /**
   * Sessions the store holds as revoked (by any replica) and not yet expired whose revocation file
   * this replica lacks: written now (a notification missed while the database was away). Returns
   * how many.
   */
  async revokedInStore(): Promise<number> {
    const rows = await this.db
      .selectFrom('sessions')
      .select(['id', 'expires_at'])
      .where('revoked_at', 'is not', null)
      .where('expires_at', '>', new Date().toISOString())
      .execute();
    let written = 0;
    for (const r of rows) {
      if (existsSync(stateFile.revoked(this.files.dir, r.id))) continue;
      await this.files.revokeSession(r.id, Date.parse(r.expires_at));
      written++;
    }
    return written;
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
      await this.files.userNotBefore(uid, NEVER_AGAIN_MS);
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
