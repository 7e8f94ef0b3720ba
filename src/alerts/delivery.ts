import type { AlertMessage } from '../model/alert-channel.js';
import type { ChannelDelivery } from '../model/alert-rule.js';
import type { Logger } from '../observe/log.js';

/** How a failed message is tried again: after `baseMs`, doubling up to `maxMs`, `attempts` in all. */
export interface Backoff {
  attempts: number;
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { attempts: 6, baseMs: 1000, maxMs: 60_000 };
/** Messages a channel holds while it fails; past this the oldest is dropped (and logged). */
const QUEUE_LIMIT = 100;

export interface DeliveryOptions {
  /** Sends one message to one channel; throws saying why it failed. */
  send: (channel: string, m: AlertMessage) => Promise<void>;
  /** The names of every channel now (for "all"). */
  channels: () => Promise<string[]>;
  log: Logger;
  backoff?: Backoff;
  /** Called when a channel's delivery status changes (to store it). */
  onChange?: () => void;
}

interface Queue {
  items: { m: AlertMessage; tries: number }[];
  busy: boolean;
  timer?: NodeJS.Timeout;
}

/**
 * Sends alert messages to channels. Each channel has its own queue, sent in order: a message that
 * fails is tried again with exponential backoff (bounded), then dropped; the channel's last error and
 * last delivery are kept for the API and the Alerts page. A failing channel never holds up another.
 */
export class Delivery {
  private readonly queues = new Map<string, Queue>();
  private readonly status = new Map<string, ChannelDelivery>();
  private stopped = false;
  private readonly backoff: Backoff;

  constructor(private readonly o: DeliveryOptions) {
    this.backoff = o.backoff ?? DEFAULT_BACKOFF;
  }

  /** Each channel's delivery status, by name. */
  view(): Record<string, ChannelDelivery> {
    return Object.fromEntries([...this.status].map(([k, v]) => [k, { ...v }]));
  }

  /** Takes back what a previous leader stored (last sent, last error). */
  restore(saved: Record<string, ChannelDelivery>): void {
    for (const [k, v] of Object.entries(saved))
      if (!this.status.has(k)) this.status.set(k, { ...v, pending: 0 });
  }

  /** Queues `m` for `to` ("all", or names; names of channels that no longer exist are skipped). */
  async dispatch(m: AlertMessage, to: 'all' | readonly string[]): Promise<void> {
    const known = await this.o.channels();
    const names = to === 'all' ? known : to.filter((n) => known.includes(n));
    if (to !== 'all')
      for (const n of to)
        if (!known.includes(n))
          this.o.log.warn({ channel: n, title: m.title }, 'alert rule names a channel that does not exist');
    for (const name of names) {
      const q = this.queues.get(name) ?? { items: [], busy: false };
      this.queues.set(name, q);
      q.items.push({ m, tries: 0 });
      if (q.items.length > QUEUE_LIMIT) {
        const dropped = q.items.shift();
        this.o.log.error(
          { channel: name, title: dropped?.m.title },
          'alert channel backlog full: oldest dropped',
        );
      }
      this.touch(name);
      if (!q.busy && !q.timer) void this.drain(name, q);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const q of this.queues.values()) if (q.timer) clearTimeout(q.timer);
  }

  /** Waits until no message is being sent (tests; shutdown). Retries waiting on a timer do not count. */
  async idle(): Promise<void> {
    while ([...this.queues.values()].some((q) => q.busy)) await new Promise((r) => setImmediate(r));
  }

  private touch(name: string): void {
    const s = this.status.get(name) ?? {
      last_sent: null,
      last_error: null,
      last_error_at: null,
      failures: 0,
      pending: 0,
    };
    s.pending = this.queues.get(name)?.items.length ?? 0;
    this.status.set(name, s);
  }

  private async drain(name: string, q: Queue): Promise<void> {
    q.busy = true;
    try {
      while (!this.stopped && q.items.length > 0) {
        const head = q.items[0];
        if (!head) break;
        head.tries += 1;
        const s = this.status.get(name);
        try {
          await this.o.send(name, head.m);
          q.items.shift();
          if (s) {
            s.last_sent = new Date().toISOString();
            s.failures = 0;
          }
          this.touch(name);
          this.o.onChange?.();
        } catch (err) {
          const why = err instanceof Error ? err.message : String(err);
          if (s) {
            s.last_error = why;
            s.last_error_at = new Date().toISOString();
            s.failures += 1;
          }
          const giveUp = head.tries >= this.backoff.attempts;
          if (giveUp) q.items.shift();
          this.touch(name);
          this.o.onChange?.();
          this.o.log.warn(
            { channel: name, title: head.m.title, tries: head.tries, err: why },
            giveUp ? 'alert not delivered: given up' : 'alert not delivered: will try again',
          );
          if (giveUp) continue;
          const wait = Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** (head.tries - 1));
          q.timer = setTimeout(() => {
            q.timer = undefined;
            void this.drain(name, q);
          }, wait);
          q.timer.unref?.();
          return;
        }
      }
    } finally {
      q.busy = false;
    }
  }
}
