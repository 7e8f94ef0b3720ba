import { UnsafeValueError } from './escape.js';
import type { FastTable } from './fast-lane.js';

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
): FastLaneDelta | undefined {
  if (!VERSION.test(base) || !VERSION.test(version))
    throw new UnsafeValueError(`unsafe fast lane versions ${base} ${version}`);
  const limit = Math.max(MIN_LIMIT, Math.floor(next.size * MAX_SHARE));
  const set: string[] = [];
  const lines: string[] = [];
  for (const [key, line] of next) {
    const old = prev.get(key);
    if (old === line) continue;
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
