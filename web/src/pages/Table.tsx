import type { ReactNode } from 'react';

/** A list in the app's table style: scrolls sideways on a phone rather than squeezing columns. */
export function Table({
  testId,
  columns,
  children,
}: {
  testId: string;
  columns: ReactNode[];
  children: ReactNode;
}) {
  return (
    <div className="relative overflow-x-auto rounded-lg border border-slate-200 bg-white">
      <table className="w-full text-left text-sm" data-testid={testId}>
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
