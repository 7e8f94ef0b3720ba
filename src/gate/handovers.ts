import { randomBytes } from 'node:crypto';

/**
 * One-time codes for handing a session to a host outside the base domain: a code works once, for a
 * minute, on the host it was issued for.
 */
export class Handovers {
  private readonly pending = new Map<string, { token: string; host: string; expires: number }>();

  /** A new code for `token` on `host`. */
  issue(token: string, host: string): string {
    const code = randomBytes(24).toString('base64url');
    for (const [k, v] of this.pending) if (v.expires < Date.now()) this.pending.delete(k);
    // Bounded: beyond this many pending hand-overs the oldest go.
    while (this.pending.size >= 10_000) this.pending.delete(this.pending.keys().next().value as string);
    this.pending.set(code, { token, host, expires: Date.now() + 60_000 });
    return code;
  }

  /** The hand-over a code stands for, used up (expiry and host are the caller's to check). */
  take(code: string): { token: string; host: string; expires: number } | undefined {
    const entry = this.pending.get(code);
    this.pending.delete(code);
    return entry;
  }
}
