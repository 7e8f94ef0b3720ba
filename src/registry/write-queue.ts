import type { Db } from '../store/db.js';
import { readSince, stillStale, type CatchUp } from './catch-up.js';
import { holdWriteLock, type WriteHold } from './persist.js';

/** A write's turn in the queue: its answer, or (staged for the group commit) the answer to come. */
export type Turn<R> = R | { done: Promise<R> };

/** What the queue needs of the registry it serialises. */
export interface QueueHost {
  readonly db: Db;
  /** PostgreSQL: other replicas store versions too (SQLite: this process is the only writer). */
  readonly shared: boolean;
  /** How many writes are staged and not yet stored. */
  staged(): number;
  /** Settles once the batch holding the staged writes is stored or refused. */
  drained(): Promise<unknown>;
  /** The version the registry holds. */
  version(): number;
  /** Applies what other replicas stored since that version. */
  caughtUp(c: CatchUp): void;
}

/**
 * The registry's write queue: turns run one at a time, each once every turn queued before it has
 * been checked and staged (or refused). On PostgreSQL it also runs the catch-ups with the other
 * replicas, and runs again a turn refused because another replica wrote first.
 */
export class WriteQueue<R extends object> {
  private tail: Promise<unknown> = Promise.resolve();
  /** A catch-up queued and not yet begun: another request joins it. */
  private catchUpQueued: Promise<void> | undefined;
  /** The queued catch-up is for writes that were refused: it takes the write lock (see holdWriteLock). */
  private holdNext = false;
  /** The write lock, held from such a catch-up until the writes that run again are stored. */
  private hold: WriteHold | undefined;

  constructor(private readonly host: QueueHost) {}

  /** Where a batch is written: through the held connection while the write lock is held. */
  get writer(): Db {
    return this.hold?.db ?? this.host.db;
  }

  /** Runs `fn` in its turn; answers once what it staged is stored. */
  run(fn: () => Turn<R> | Promise<Turn<R>>, again = true, attempt = 0): Promise<R> {
    const run = this.tail.then(fn);
    this.tail = run.catch(() => undefined);
    const answer = run.then((t) => ('done' in t ? t.done : t));
    if (!this.host.shared) return answer;
    // Another replica wrote first: the turn runs again once caught up (the catch-up was queued
    // first), against the state it now meets. The caller sees that answer, not this refusal.
    return answer.catch((err: unknown) => {
      stillStale(err, again, attempt);
      return this.run(fn, again, attempt + 1);
    });
  }

  /**
   * Takes in what other replicas stored since the registry's version, as a turn: after the writes
   * queued before it are stored, before those queued after it are checked. With `lock` (writes were
   * refused), it holds the write lock until the writes that run again are stored.
   */
  catchUp(lock = false): Promise<void> {
    if (lock) this.holdNext = true;
    if (this.catchUpQueued) return this.catchUpQueued;
    const run = this.tail.then(async () => {
      this.catchUpQueued = undefined;
      const locking = this.holdNext && !this.hold;
      this.holdNext = false;
      // Staged writes hold claims and version numbers: their batch lands (or fails) first.
      if (this.host.staged() > 0) await this.host.drained().catch(() => undefined);
      if (locking) this.hold = await holdWriteLock(this.host.db);
      try {
        const c = await readSince(this.writer, this.host.version());
        if (c) this.host.caughtUp(c);
      } finally {
        // Queued after the writes that run again (queued as they were refused, before any I/O).
        if (locking) this.releaseHold();
      }
    });
    this.catchUpQueued = run;
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** A turn that lets the write lock go once the batch staged before it is stored (or refused). */
  private releaseHold(): void {
    this.tail = this.tail.then(async () => {
      if (this.host.staged() > 0) await this.host.drained().catch(() => undefined);
      const hold = this.hold;
      this.hold = undefined;
      hold?.release();
    });
  }
}
