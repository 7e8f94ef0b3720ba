/**
 * Failure counters for sign-in: at most `limit` failures per key within `windowMs`. In memory (the
 * gate is one process); a restart forgives, which is acceptable for a throttle.
 */
export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Seconds until `key` may try again, or 0 when it may now. */
  blockedFor(key: string, now = Date.now()): number {
    const list = this.recent(key, now);
    if (list.length < this.limit) return 0;
    return Math.max(1, Math.ceil(((list[0] as number) + this.windowMs - now) / 1000));
  }

  fail(key: string, now = Date.now()): void {
    const list = this.recent(key, now);
    list.push(now);
    this.failures.set(key, list);
    // Bounded memory under a flood of distinct keys: forget the oldest half.
    if (this.failures.size > 100_000) {
      let n = 0;
      for (const k of this.failures.keys()) {
        if (n++ > 50_000) break;
        this.failures.delete(k);
      }
    }
  }

  reset(key: string): void {
    this.failures.delete(key);
  }

  private recent(key: string, now: number): number[] {
    return (this.failures.get(key) ?? []).filter((t) => t > now - this.windowMs);
  }
}
