import type { ServiceRecord } from '../model/service.js';
import type { VersionRow, WriteMeta } from './persist.js';

/**
 * The writes the registry has checked and handed to the group commit, not yet stored: an overlay
 * on the stored records that every later write is checked against (readers see only what is
 * stored). The staged rows are stored in order, a batch at a time: the oldest rows land (`stored`)
 * or everything staged is refused (`takeBack`: the writes after a refused batch were checked against
 * it).
 */
export class Staging {
  private readonly staged = new Map<string, ServiceRecord | undefined>();
  /** Each staged write and the undo of its claims, in order. */
  private writes: { row: VersionRow; undo: () => void }[] = [];
  /** The last version handed out, stored or staged. */
  lastVersion: number;
  /** Bumped when staged writes are taken back or renumbered: a write checked before then must not be staged. */
  epoch = 0;

  constructor(
    private readonly records: ReadonlyMap<string, ServiceRecord>,
    version: number,
  ) {
    this.lastVersion = version;
  }

  get size(): number {
    return this.writes.length;
  }

  /** The staged rows, oldest first. */
  rows(): VersionRow[] {
    return this.writes.map((w) => w.row);
  }

  /** The newest staged row (undefined when nothing is staged). */
  get last(): VersionRow | undefined {
    return this.writes[this.writes.length - 1]?.row;
  }

  /** A record as the next write sees it: staged (undefined: deleted), else stored. */
  view(name: string): ServiceRecord | undefined {
    return this.staged.has(name) ? this.staged.get(name) : this.records.get(name);
  }

  /** Every record as the next write sees it. */
  *entries(): Generator<[string, ServiceRecord | undefined]> {
    for (const [n, r] of this.records) yield [n, this.staged.has(n) ? this.staged.get(n) : r];
    for (const [n, r] of this.staged) if (!this.records.has(n)) yield [n, r];
  }

  /** Stages one write as the next version; `undo` takes its claims back should the batch fail. */
  stage(changes: [string, ServiceRecord | undefined][], meta: WriteMeta, undo: () => void): VersionRow {
    const row: VersionRow = {
      version: ++this.lastVersion,
      at: new Date().toISOString(),
      meta,
      changes: changes.map(([name, after]) => ({ name, before: this.view(name), after })),
    };
    for (const [name, rec] of changes) this.staged.set(name, rec);
    this.writes.push({ row, undo });
    return row;
  }

  /**
   * The oldest `n` staged writes were stored (and are now in the records); those staged after them
   * (checked against them, waiting for the next batch) stay staged.
   */
  stored(n: number): void {
    this.writes = this.writes.slice(n);
    this.staged.clear();
    for (const { row } of this.writes) for (const c of row.changes) this.staged.set(c.name, c.after);
  }

  /** Other replicas stored `by` versions first: every staged write is numbered after them. */
  renumber(by: number): void {
    for (const { row } of this.writes) row.version += by;
    this.lastVersion += by;
    this.epoch += 1;
  }

  /** Nothing staged was stored: claims undone newest first, versions handed out again from `current`. */
  takeBack(current: number): void {
    for (const { undo } of this.writes.reverse()) undo();
    this.writes = [];
    this.staged.clear();
    this.lastVersion = current;
    this.epoch += 1;
  }
}
