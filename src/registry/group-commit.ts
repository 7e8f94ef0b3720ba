import { GatehouseError } from '../model/errors.js';

/**
 * What the group commit calls: write a batch (all or nothing), then either hook. SQLite writes
 * synchronously (between two turns, nothing else is staged meanwhile); PostgreSQL's write is a
 * promise, and one batch is in flight at a time.
 */
export interface GroupCommitHooks<T> {
  /** Writes every item in one transaction; throws or rejects (having written nothing) when it cannot. */
  write(items: T[]): void | Promise<void>;
  /** Whether a write may start now (no other transaction open on the handle); else it waits. */
  ready?(): boolean;
  /** After the transaction committed, before any caller is answered. */
  committed(items: T[]): void;
  /**
   * After the transaction failed (nothing written), before every caller is refused: with what it
   * returns, else a 503 `commit_failed` naming the cause.
   */
  failed(items: T[], err: unknown): Error | void;
}

interface Pending<T> {
  /** Undefined: a caller that only waits for the batch (a write that changed nothing beside it). */
  item: T | undefined;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** How long a batch waits for another transaction on the handle to finish before it looks again. */
const RETRY_MS = 1;

/**
 * Group commit: the items submitted within one turn of the event loop (concurrent registrations
 * whose requests arrived together) are written in one transaction, at the next `setImmediate`.
 * Each submitter's promise settles only once that transaction has committed (durability as with a
 * transaction each) or failed (every submitter of the batch is refused with the same error).
 */
export class GroupCommit<T> {
  private pending: Pending<T>[] = [];
  private scheduled = false;
  /** An asynchronous batch is being written: the next waits for it. */
  private inFlight = false;
  /** Batches written, and the largest; batches refused: for tests and the bench. */
  readonly stats = { batches: 0, items: 0, largest: 0, refused: 0 };

  constructor(private readonly hooks: GroupCommitHooks<T>) {}

  /** Items submitted and not yet written. */
  get size(): number {
    return this.pending.length;
  }

  /** Resolves once `item` is stored; `undefined` resolves with the batch staged so far (or fails with it). */
  submit(item: T | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    // The batch in flight flushes what was submitted meanwhile as it settles.
    if (this.inFlight) return;
    if (this.hooks.ready && !this.hooks.ready()) {
      setTimeout(() => this.flush(), RETRY_MS);
      return;
    }
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const items = batch.flatMap((p) => (p.item === undefined ? [] : [p.item]));
    if (items.length === 0) {
      for (const p of batch) p.resolve();
      return;
    }
    let written: void | Promise<void>;
    try {
      written = this.hooks.write(items);
    } catch (err) {
      this.fail(batch, items, err);
      return;
    }
    if (written instanceof Promise) {
      this.inFlight = true;
      written.then(
        () => {
          this.inFlight = false;
          this.done(batch, items);
          this.next();
        },
        (err: unknown) => {
          this.inFlight = false;
          this.fail(batch, items, err);
          this.next();
        },
      );
      return;
    }
    this.done(batch, items);
  }

  /** After an asynchronous batch: the next one, with what was submitted meanwhile, at once. */
  private next(): void {
    if (this.scheduled) setImmediate(() => this.flush());
  }

  private fail(batch: Pending<T>[], items: T[], err: unknown): void {
    this.stats.refused += 1;
    const own = this.hooks.failed(items, err);
    const reason = err instanceof Error ? err.message : String(err);
    const refusal =
      own ??
      new GatehouseError(
        'commit_failed',
        `the registry could not store this write (${reason}); nothing of it was stored, try again`,
        // The store is unavailable (disk full, locked, gone), not the request wrong: a client retries.
        503,
      );
    // Items staged while an asynchronous batch was in flight were checked against it: they go too.
    const after = this.pending;
    this.pending = [];
    for (const p of [...batch, ...after]) p.reject(refusal);
  }

  private done(batch: Pending<T>[], items: T[]): void {
    this.stats.batches += 1;
    this.stats.items += items.length;
    this.stats.largest = Math.max(this.stats.largest, items.length);
    try {
      this.hooks.committed(items);
    } catch (err) {
      // Stored, but what follows a commit failed (a listener threw): as a write each used to.
      for (const p of batch) p.reject(err);
      return;
    }
    for (const p of batch) p.resolve();
  }
}
