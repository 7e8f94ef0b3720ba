import { useLayoutEffect, useRef, type ReactNode } from 'react';

/**
 * A list in the app's table style. On a phone each row becomes a card, each cell labelled with its
 * column (styles.css, `.gh-stack`), so that actions stay on screen instead of behind a sideways
 * scroll; the labels are copied from the header cells after each render, so pages write rows as usual.
 */
export function Table({
  testId,
  columns,
  children,
}: {
  testId: string;
  columns: ReactNode[];
  children: ReactNode;
}) {
  const ref = useRef<HTMLTableElement>(null);
  useLayoutEffect(() => {
    const table = ref.current;
    if (!table) return;
    const names = [...(table.tHead?.rows[0]?.cells ?? [])].map((c) => c.textContent?.trim() ?? '');
    for (const row of table.tBodies[0]?.rows ?? [])
      [...row.cells].forEach((cell, i) => {
        const label = cell.colSpan > 1 ? '' : (names[i] ?? '');
        if (cell.dataset.label !== label) cell.dataset.label = label;
      });
  });
  return (
    <div className="relative overflow-x-auto rounded-lg border border-slate-200 bg-white">
      <table ref={ref} className="gh-stack w-full text-left text-sm" data-testid={testId}>
        <thead className="bg-slate-100 text-slate-600">
          <tr>
            {columns.map((c, i) => (
              <th key={i} className="px-3 py-2 font-medium">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

/**
 * The header of a column of row actions, named for screen readers only. Positioned inside the
 * table's scroller: an absolute sr-only span in a header cell would otherwise widen the whole page
 * on a phone.
 */
export const actionsColumn = (
  <span className="relative">
    <span className="sr-only">Actions</span>
  </span>
);
