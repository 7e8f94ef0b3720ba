import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../store/db.js';
import type { Sealer } from '../store/secrets.js';

/** How long a hand-over code works. */
const HANDOVER_MS = 60_000;

function codeHash(code: string): string {
  return createHash('sha256').update(code).digest('hex');
}

/**
 * One-time codes for handing a session to a host outside the base domain: a code works once, for a
 * minute, on the host it was issued for. Kept in the store (`handovers`: the code's SHA-256, the
 * session token sealed with the data key), so a code issued on one replica is redeemed on any
 * other, and only once: taking it deletes its row in the same statement.
 */
export class Handovers {
  constructor(
    private readonly db: Db,
    private readonly sealer: Sealer,
  ) {}

  /** A new code for `token` on `host`. */
  async issue(token: string, host: string, now = Date.now()): Promise<string> {
    const code = randomBytes(24).toString('base64url');
    // Codes past their minute are of no use: they go as new ones come.
    await this.db.deleteFrom('handovers').where('expires_at', '<', new Date(now).toISOString()).execute();
    await this.db
      .insertInto('handovers')
      .values({
        code_hash: codeHash(code),
        token: this.sealer.seal(token),
        host,
        expires_at: new Date(now + HANDOVER_MS).toISOString(),
      })
      .execute();
    return code;
  }

  /** The hand-over a code stands for, used up (expiry and host are the caller's to check). */
  async take(code: string): Promise<{ token: string; host: string; expires: number } | undefined> {
    if (!code) return undefined;
    const row = await this.db
      .deleteFrom('handovers')
      .where('code_hash', '=', codeHash(code))
      .returning(['token', 'host', 'expires_at'])
      .executeTakeFirst();
    if (!row) return undefined;
    let token: string;
    try {
      token = this.sealer.open(row.token);
    } catch {
      // Sealed under a data key rotated away since (a minute at most): the code is simply spent.
      return undefined;
    }
    return { token, host: row.host, expires: Date.parse(row.expires_at) };
  }
}
