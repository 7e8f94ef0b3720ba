import { UnsafeValueError } from './escape.js';
import type { FastTable } from './fast-lane.js';

/**
 * A change to the fast lane's table as a patch (fast-lane-lua.ts, M.patch): the lines that are new
 * or changed, and the keys that went. Pure: the previous table and the new one in, text out.
 */

/**
 * Whether a patch may change a pool's line. Each worker keeps the pools it parsed (pools-lua.ts)
 * until the table's generation changes, which a patch does not do: a changed pool line would be
 * missed by a worker that has it cached. Until that cache also follows the table's serial
 * (M.bump), a changed pool goes with the whole table (PUT, a new generation).
 */
export const PATCH_CHANGED_POOLS = false;

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

export interface DeltaOptions {
  /** See PATCH_CHANGED_POOLS. */
  changedPools?: boolean;
  /**
   * Pools a worker may still hold parsed although the table no longer has them (deleted by an
   * earlier patch): setting one again is a changed pool too.
   */
  stale?: ReadonlySet<string>;
}

const VERSION = /^[0-9a-f]+$/;

/**
 * `# gatehouse fast lane patch <base> <version>`, then every line of `next` that `prev` lacks or
 * has otherwise, then `-key` for each key of `prev` that `next` lacks. Undefined when a patch
 * cannot or should not say it (a changed pool, see PATCH_CHANGED_POOLS; most of the table changed):
 * the whole table is sent then.
 */
export function fastLaneDelta(
  prev: FastTable,
  next: FastTable,
  base: string,
  version: string,
  opts: DeltaOptions = {},
): FastLaneDelta | undefined {
  if (!VERSION.test(base) || !VERSION.test(version))
    throw new UnsafeValueError(`unsafe fast lane versions ${base} ${version}`);
  const changedPools = opts.changedPools ?? PATCH_CHANGED_POOLS;
  const limit = Math.max(MIN_LIMIT, Math.floor(next.size * MAX_SHARE));
  const set: string[] = [];
  const lines: string[] = [];
  for (const [key, line] of next) {
    const old = prev.get(key);
    if (old === line) continue;
    if (key.startsWith('@') && !changedPools && (old !== undefined || opts.stale?.has(key))) return undefined;
    set.push(key);
    lines.push(line);
    if (set.length > limit) return undefined;
  }
  const deleted: string[] = [];
  for (const key of prev.keys()) {
    if (next.has(key)) continue;
    deleted.push(key);
    if (set.length + deleted.length > limit) return undefined;
  }
  let text = `# gatehouse fast lane patch ${base} ${version}\n`;
  for (const line of lines) text += line + '\n';
  for (const key of deleted) text += `-${key}\n`;
  return { text, set, deleted };
}
