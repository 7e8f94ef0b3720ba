import type { Logger } from '../observe/log.js';

/**
 * When the external records' passes run (ExternalRecords, external-records.ts): a registry change
 * asks for one after a short debounce, edges and providers are looked at on one interval and every
 * host read back on another, a failed host at its retry. Passes never overlap: requests while one
 * runs coalesce into one more (a full one wins).
 */

export type PassKind = 'changed' | 'full';

export interface RecordPassesOptions {
  /** Subscribes to registry changes; returns the unsubscribe. */
  onServicesChange: (fn: () => void) => () => void;
  log: Logger;
  debounceMs?: number;
  /** A 'changed' pass this often (a changed address or zone is followed). */
  watchMs?: number;
  /** A 'full' pass this often. */
  fullPassMs?: number;
}

export class RecordPasses {
  private active = false;
  private busy: Promise<void> | undefined;
  private again: 'none' | PassKind = 'none';
  private timers: NodeJS.Timeout[] = [];
  private debounce: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private off: (() => void) | undefined;

  constructor(
    private readonly o: RecordPassesOptions,
    /** One pass; a full one reads every host back. */
    private readonly pass: (full: boolean) => Promise<void>,
  ) {}

  /** Between start and stop. */
  get running(): boolean {
    return this.active;
  }

  /** Runs `prepare` (what passes need), then follows changes, the watch and the periodic pass; a full pass now. */
  async start(prepare: () => Promise<void>): Promise<void> {
    this.active = true;
    await prepare();
    // The first change of a burst starts the wait; those within it go in the same pass (a steady
    // stream of changes does not postpone it).
    this.off = this.o.onServicesChange(() => {
      this.debounce ??= setTimeout(() => {
        this.debounce = undefined;
        this.kick('changed');
      }, this.o.debounceMs ?? 100);
    });
    const every = (ms: number, kind: PassKind) => {
      const t = setInterval(() => this.kick(kind), ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.o.watchMs ?? 5000, 'changed');
    every(this.o.fullPassMs ?? 5 * 60_000, 'full');
    this.kick('full');
  }

  async stop(): Promise<void> {
    this.active = false;
    this.off?.();
    this.off = undefined;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    clearTimeout(this.debounce);
    this.debounce = undefined;
    clearTimeout(this.retry);
    await this.busy;
  }

  /** Asks for a pass; passes never overlap, requests coalesce. */
  kick(kind: PassKind = 'changed'): void {
    if (!this.active) return;
    if (this.busy) {
      if (this.again !== 'full') this.again = kind;
      return;
    }
    this.busy = this.pass(kind === 'full')
      .catch((err: unknown) => this.o.log.warn({ err: String(err) }, 'external records: pass failed'))
      .finally(() => {
        this.busy = undefined;
        const next = this.again;
        this.again = 'none';
        if (next !== 'none') this.kick(next);
      });
  }

  /** Resolves once no pass runs or is asked for. */
  async settled(): Promise<void> {
    while (this.busy) await this.busy;
  }

  /** A 'changed' pass just after the earliest of these times (ms since the epoch); none: no retry. */
  retryAt(times: number[]): void {
    clearTimeout(this.retry);
    if (times.length === 0 || !this.active) return;
    this.retry = setTimeout(() => this.kick('changed'), Math.max(0, Math.min(...times) - Date.now()) + 10);
    this.retry.unref();
  }
}
