/**
 * A fast-lane table made from the one before by a few changes, without copying it: copying a
 * 20,000-entry Map costs about as much as building it. The table before stays as it was (the
 * driver keeps it to make a patch against). Lookups walk a bounded chain of layers; iterating
 * (rare: a patch made by comparing whole tables) builds a plain Map once.
 */

/** Past this many layers, the chain's changes are merged into one layer over the base. */
const MAX_DEPTH = 16;

type Table = ReadonlyMap<string, string>;

export class LayeredTable implements ReadonlyMap<string, string> {
  private flat: Map<string, string> | undefined;

  private constructor(
    /** The table under this layer: a plain Map, or another layer. */
    private readonly parent: Table,
    /** Keys this layer sets (new or changed lines). */
    private readonly set: ReadonlyMap<string, string>,
    /** Keys this layer deletes (none of them in `set`). */
    private readonly deleted: ReadonlySet<string>,
    private readonly depth: number,
    readonly size: number,
  ) {}

  /** `prev` with `set` set and `deleted` deleted; `prev` itself is not changed. */
  static over(prev: Table, set: ReadonlyMap<string, string>, deleted: ReadonlySet<string>): Table {
    let size = prev.size;
    for (const k of set.keys()) if (!prev.has(k)) size++;
    for (const k of deleted) if (prev.has(k)) size--;
    const depth = prev instanceof LayeredTable ? prev.depth + 1 : 1;
    const layer = new LayeredTable(prev, set, deleted, depth, size);
    return depth > MAX_DEPTH ? layer.collapse() : layer;
  }

  get(key: string): string | undefined {
    let t: Table = this as Table;
    while (t instanceof LayeredTable) {
      const v = t.set.get(key);
      if (v !== undefined) return v;
      if (t.deleted.has(key)) return undefined;
      t = t.parent;
    }
    return t.get(key);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** The layers from the base's up to this one, and the base. */
  private chain(): { base: Table; layers: LayeredTable[] } {
    const layers: LayeredTable[] = [];
    let t: Table = this as Table;
    while (t instanceof LayeredTable) {
      layers.push(t);
      t = t.parent;
    }
    return { base: t, layers: layers.reverse() };
  }

  /** One layer over the base with this chain's changes; a plain Map when they are many. */
  private collapse(): Table {
    const { base, layers } = this.chain();
    const set = new Map<string, string>();
    const deleted = new Set<string>();
    for (const l of layers) {
      for (const k of l.deleted) {
        set.delete(k);
        if (base.has(k)) deleted.add(k);
      }
      for (const [k, v] of l.set) {
        set.set(k, v);
        deleted.delete(k);
      }
    }
    if (set.size + deleted.size > base.size / 8 + 64) return this.toMap();
    return new LayeredTable(base, set, deleted, 1, this.size);
  }

  /** The whole table as a plain Map (made once). */
  private toMap(): Map<string, string> {
    if (this.flat) return this.flat;
    const { base, layers } = this.chain();
    const map = new Map(base);
    for (const l of layers) {
      for (const k of l.deleted) map.delete(k);
      for (const [k, v] of l.set) map.set(k, v);
    }
    this.flat = map;
    return map;
  }

  entries(): MapIterator<[string, string]> {
    return this.toMap().entries();
  }

  keys(): MapIterator<string> {
    return this.toMap().keys();
  }

  values(): MapIterator<string> {
    return this.toMap().values();
  }

  forEach(
    fn: (value: string, key: string, map: ReadonlyMap<string, string>) => void,
    thisArg?: unknown,
  ): void {
    for (const [k, v] of this.toMap()) fn.call(thisArg, v, k, this);
  }

  [Symbol.iterator](): MapIterator<[string, string]> {
    return this.entries();
  }
}
