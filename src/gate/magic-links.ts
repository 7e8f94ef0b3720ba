import { createHash, randomBytes } from 'node:crypto';
import type { Database, Db } from '../store/db.js';

type UserRow = Database['users'];

/** Sends one text email to one address (the configured email channel's server). */
export type SendMail = (to: string, subject: string, text: string) => Promise<void>;

export type Redeemed =
  | { kind: 'ok'; user: UserRow; rd: string }
  /** Not a link we made, or one made for a user who is gone or disabled now. */
  | { kind: 'unknown' }
  | { kind: 'used' }
  | { kind: 'expired' }
  /** Opened in a browser that did not ask for it (another device, a mail scanner): not used up. */
  | { kind: 'other_browser' };

const sha = (s: string) => createHash('sha256').update(s).digest('base64url');

/**
 * Sign-in links sent by email. A link works once, for `ttlMs`, and only in the browser that asked
 * for it: asking sets a cookie holding a nonce, and the link is bound to the nonce's hash. The store
 * keeps hashes only, so a copy of it signs nobody in. A link opened elsewhere (a phone, a mail
 * scanner following links) is refused without being used up.
 */
export class MagicLinks {
  constructor(
    private readonly db: Db,
    readonly ttlMs: number,
  ) {}

  /** A new nonce for a browser that holds none yet. */
  static nonce(): string {
    return randomBytes(24).toString('base64url');
  }

  /** A link token for `userId`, bound to the asking browser's `nonce`. */
  async issue(userId: string, nonce: string, rd: string): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const now = Date.now();
    await this.db
      .insertInto('magic_links')
      .values({
        token_hash: sha(token),
        user_id: userId,
        nonce_hash: sha(nonce),
        rd: rd.slice(0, 2048),
        created_at: new Date(now).toISOString(),
        expires_at: new Date(now + this.ttlMs).toISOString(),
        used_at: null,
      })
      .execute();
    return token;
  }

  /** Uses the link up if it may sign in this browser (`nonce`: its cookie, if any) now. */
  async redeem(token: string, nonce: string | undefined): Promise<Redeemed> {
    const row = await this.db
      .selectFrom('magic_links')
      .selectAll()
      .where('token_hash', '=', sha(token))
      .executeTakeFirst();
    if (!row) return { kind: 'unknown' };
    if (row.used_at) return { kind: 'used' };
    if (Date.parse(row.expires_at) <= Date.now()) return { kind: 'expired' };
    if (!nonce || sha(nonce) !== row.nonce_hash) return { kind: 'other_browser' };
    // Used up in one statement: two tabs opening it at once cannot both sign in.
    const r = await this.db
      .updateTable('magic_links')
      .set({ used_at: new Date().toISOString() })
      .where('token_hash', '=', row.token_hash)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) return { kind: 'used' };
    const user = await this.db
      .selectFrom('users')
      .selectAll()
      .where('id', '=', row.user_id)
      .executeTakeFirst();
    if (!user || user.disabled) return { kind: 'unknown' };
    return { kind: 'ok', user, rd: row.rd };
  }

  /** Links past their lifetime go (an hour later: long enough to say "expired" rather than "unknown"). */
  async prune(nowMs = Date.now()): Promise<void> {
    await this.db
      .deleteFrom('magic_links')
      .where('expires_at', '<', new Date(nowMs - 3_600_000).toISOString())
      .execute();
  }
}
