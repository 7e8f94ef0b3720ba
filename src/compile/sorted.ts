import { cmp } from './fragment.js';

/**
 * `arr` (sorted by `keyOf`, elements with the same key next to each other) with the elements of
 * each key in `changes` replaced by the given ones (none: removed; an absent key: added in order).
 * A new array: `arr` may have been handed out and is never changed. A few changes are spliced in
 * (a copy and a binary search each); many are merged in one pass.
 */
export function replaceByKey<T>(
  arr: readonly T[],
  keyOf: (t: T) => string,
  changes: ReadonlyMap<string, readonly T[]>,
): T[] {
  const keys = [...changes.keys()].sort(cmp);
  if (keys.length <= 16) {
    const out = arr.slice();
    for (const k of keys) {
      const lo = lowerBound(out, keyOf, k);
      let hi = lo;
      while (hi < out.length && keyOf(out[hi] as T) === k) hi++;
      out.splice(lo, hi - lo, ...(changes.get(k) as readonly T[]));
    }
    return out;
  }
  const out: T[] = [];
  let j = 0;
  for (const t of arr) {
    const k = keyOf(t);
    while (j < keys.length && (keys[j] as string) < k) out.push(...(changes.get(keys[j++] as string) as T[]));
    // Replaced: what replaces it is added once the merge is past its key.
    if (j < keys.length && keys[j] === k) continue;
    out.push(t);
  }
  while (j < keys.length) out.push(...(changes.get(keys[j++] as string) as T[]));
  return out;
}

function lowerBound<T>(arr: readonly T[], keyOf: (t: T) => string, k: string): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keyOf(arr[mid] as T) < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Inserts `k` into the sorted `arr` (in place: for arrays never handed out). */
export function insertSorted(arr: string[], k: string): void {
  arr.splice(
    lowerBound(arr, (x) => x, k),
    0,
    k,
  );
}

/** Removes `k` from the sorted `arr` (in place: for arrays never handed out). */
export function removeSorted(arr: string[], k: string): void {
  const i = lowerBound(arr, (x) => x, k);
  if (arr[i] === k) arr.splice(i, 1);
}

/** Whether two arrays hold the same elements (by identity) in the same order. */
export function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
