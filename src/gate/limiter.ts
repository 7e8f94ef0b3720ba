import type { Db } from '../store/db.js';

/** How often one limiter deletes its rows older than its window (at most). */
const PRUNE_EVERY_MS = 60_000;

/**
 * Failure counters for sign-in: at most `limit` failures per key within `windowMs`. Kept in the
 * store (`sign_in_failures`, one row per failure), so every replica sharing it counts the same
 * failures: N replicas do not allow N times the attempts. Each limiter counts under its own
 * `name`, so the portal's and the management API's counters stay apart as before.
 */
export class FailureLimiter {
  private prunedAt = 0;

  constructor(
    private readonly db: Db,
    private readonly name: string,
    private readonly limit: number,
    private readonly windowMs: number,
  ) {
    if (!/^[a-z-]{1,20}$/.test(name)) throw new Error(`limiter name ${name}: lowercase letters and - only`);
  }

  /** Seconds until `key` may try again, or 0 when it may now. */
  async blockedFor(key: string, now = Date.now()): Promise<number> {
    const row = await this.db
      .selectFrom('sign_in_failures')
      .select((eb) => [eb.fn.countAll<number | string>().as('n'), eb.fn.min('at').as('oldest')])
      .where('key', '=', this.key(key))
      .where('at', '>', new Date(now - this.windowMs).toISOString())
      .executeTakeFirst();
    if (Number(row?.n ?? 0) < this.limit || !row?.oldest) return 0;
    return Math.max(1, Math.ceil((Date.parse(row.oldest) + this.windowMs - now) / 1000));
  }

  async fail(key: string, now = Date.now()): Promise<void> {
    await this.db
      .insertInto('sign_in_failures')
      .values({ key: this.key(key), at: new Date(now).toISOString() })
      .execute();
    // Rows past the window count for nothing: this limiter's go now and then.
    if (now - this.prunedAt < PRUNE_EVERY_MS) return;
    this.prunedAt = now;
    await this.db
      .deleteFrom('sign_in_failures')
      .where('key', 'like', `${this.name} %`)
      .where('at', '<=', new Date(now - this.windowMs).toISOString())
      .execute();
  }

  async reset(key: string): Promise<void> {
    await this.db.deleteFrom('sign_in_failures').where('key', '=', this.key(key)).execute();
  }

  private key(key: string): string {
    return `${this.name} ${key}`;
  }
}
