import type { ServiceRecord } from '../model/service.js';
import type { VersionRow, WriteMeta } from './persist.js';

/**
 * The writes the registry has checked and handed to the group commit, not yet stored: an overlay
 * on the stored records that every later write is checked against (readers see only what is
 * stored). All of it is in the batch being stored, which either lands as a whole (`clear`) or not at
 * all (`takeBack`).
 */
export class Staging {
  private readonly staged = new Map<string, ServiceRecord | undefined>();
  /** Each staged write's undo of its claims, in order. */
  private undos: (() => void)[] = [];
  /** The last version handed out, stored or staged. */
  lastVersion: number;
  /** Bumped when staged writes are taken back: a write checked before then must not be staged. */
  epoch = 0;

  constructor(
    private readonly records: ReadonlyMap<string, ServiceRecord>,
    version: number,
  ) {
    this.lastVersion = version;
  }

  get size(): number {
    return this.staged.size;
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
    this.undos.push(undo);
    return row;
  }

  /** Everything staged was stored (and is now in the records). */
  clear(): void {
    this.staged.clear();
    this.undos = [];
  }

  /** Nothing staged was stored: claims undone newest first, versions handed out again from `current`. */
  takeBack(current: number): void {
    for (const undo of this.undos.reverse()) undo();
    this.clear();
    this.lastVersion = current;
    this.epoch += 1;
  }
}
