import type { ReactNode } from 'react';

/** A list's place on a page: "Loading…" until the first read answers, `empty` when it holds nothing. */
export function LoadedList<T>({
  items,
  empty,
  children,
}: {
  items: T[] | null | undefined;
  empty: ReactNode;
  children: (items: T[]) => ReactNode;
}) {
  if (!items) return <p className="text-sm text-slate-500">Loading…</p>;
  if (items.length === 0) return <p className="text-sm text-slate-500">{empty}</p>;
  return children(items);
}
