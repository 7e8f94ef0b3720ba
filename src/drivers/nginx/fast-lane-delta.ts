import { UnsafeValueError } from './escape.js';
import type { FastTable, TableChanges } from './fast-lane.js';

/**
 * A change to the fast lane's table as a patch (fast-lane-lua.ts, M.patch): the lines that are new
 * or changed, and the keys that went. Pure: the previous table and the new one in, text out.
 */

/** Past this share of the new table (and this many lines) changed, the whole table is sent instead. */
const MAX_SHARE = 0.5;
const MIN_LIMIT = 64;

export interface FastLaneDelta {
  /** The PATCH body. */
  text: string;
  /** Keys set (new or changed lines). */
  set: string[];
  /** Keys deleted. */
  deleted: string[];
}

const VERSION = /^[0-9a-f]+$/;

/**
 * `# gatehouse fast lane patch <base> <version>`, then every line of `next` that `prev` lacks or
 * has otherwise, then `-key` for each key of `prev` that `next` lacks. Undefined when a patch
 * should not say it (most of the table changed): the whole table is sent then. A pool's line is a
 * line like any other: every worker drops the pools it parsed when a patch bumps the dict's serial.
 */
export function fastLaneDelta(
  prev: FastTable,
  next: FastTable,
  base: string,
  version: string,
  /** The keys render knows changed since `changes.from`: used when that is `prev`, without a scan. */
  changes?: TableChanges,
): FastLaneDelta | undefined {
  if (!VERSION.test(base) || !VERSION.test(version))
    throw new UnsafeValueError(`unsafe fast lane versions ${base} ${version}`);
  const limit = Math.max(MIN_LIMIT, Math.floor(next.size * MAX_SHARE));
  if (changes && changes.from === prev) return fromChanges(next, changes, base, version, limit);
  const walked = inOrder(prev, next, limit);
  if (walked === 'over') return undefined;
  const diff = walked === 'reordered' ? byLookup(prev, next, limit) : walked;
  if (!diff) return undefined;
  let text = `# gatehouse fast lane patch ${base} ${version}\n`;
  for (const line of diff.lines) text += line + '\n';
  for (const key of diff.deleted) text += `-${key}\n`;
  return { text, set: diff.set, deleted: diff.deleted };
}

interface Diff {
  set: string[];
  lines: string[];
  deleted: string[];
}

/**
 * Both tables walked side by side: render keeps the table's order (pools, then hosts) and hands back
 * the same key and line strings for unchanged entries, so a change at 10,000 hosts costs one pass
 * of pointer comparisons instead of 20,000 lookups. A key only one table has is a set or a delete;
 * a key both have elsewhere means the order changed: 'reordered' (the caller looks keys up instead).
 */
function inOrder(prev: FastTable, next: FastTable, limit: number): Diff | 'over' | 'reordered' {
  const d: Diff = { set: [], lines: [], deleted: [] };
  // Keys and values apart: no [key, line] array made per entry (20,000 of them per apply).
  const ak = prev.keys();
  const av = prev.values();
  const bk = next.keys();
  const bv = next.values();
  let x = ak.next();
  let y = bk.next();
  let xv = av.next().value;
  let yv = bv.next().value;
  const stepX = () => {
    x = ak.next();
    xv = av.next().value;
  };
  const stepY = () => {
    y = bk.next();
    yv = bv.next().value;
  };
  while (!x.done || !y.done) {
    if (!x.done && !y.done && x.value === y.value) {
      if (xv !== yv) {
        d.set.push(y.value);
        d.lines.push(yv as string);
      }
      stepX();
      stepY();
    } else if (!y.done && !prev.has(y.value)) {
      d.set.push(y.value);
      d.lines.push(yv as string);
      stepY();
    } else if (!x.done && !next.has(x.value)) {
      d.deleted.push(x.value);
      stepX();
    } else {
      return 'reordered';
    }
    if (d.set.length + d.deleted.length > limit) return 'over';
  }
  return d;
}

/** Every key of `next` looked up in `prev`, then every key of `prev` in `next`. */
function byLookup(prev: FastTable, next: FastTable, limit: number): Diff | undefined {
  const d: Diff = { set: [], lines: [], deleted: [] };
  for (const [key, line] of next) {
    if (prev.get(key) === line) continue;
    d.set.push(key);
    d.lines.push(line);
    if (d.set.length > limit) return undefined;
  }
  for (const key of prev.keys()) {
    if (next.has(key)) continue;
    d.deleted.push(key);
    if (d.set.length + d.deleted.length > limit) return undefined;
  }
  return d;
}

function fromChanges(
  next: FastTable,
  changes: TableChanges,
  base: string,
  version: string,
  limit: number,
): FastLaneDelta | undefined {
  if (changes.set.length + changes.deleted.length > limit) return undefined;
  let text = `# gatehouse fast lane patch ${base} ${version}\n`;
  const set: string[] = [];
  for (const key of changes.set) {
    const line = next.get(key);
    if (line === undefined) throw new UnsafeValueError(`fast lane change names a missing key ${key}`);
    set.push(key);
    text += line + '\n';
  }
  const deleted: string[] = [];
  for (const key of changes.deleted) {
    if (next.has(key)) throw new UnsafeValueError(`fast lane change deletes a present key ${key}`);
    deleted.push(key);
    text += `-${key}\n`;
  }
  return { text, set, deleted };
}
