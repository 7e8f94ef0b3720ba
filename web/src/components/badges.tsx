/** A small rounded label (states, counts). */
export const badge = 'inline-block rounded-full px-2 py-0.5 text-xs font-medium whitespace-nowrap';

/** A two-state badge: green when `on`, grey when not (online/offline, connected, live…). */
export function StateBadge({
  on,
  yes,
  no,
  testId,
  className = '',
}: {
  on: boolean;
  yes: string;
  no: string;
  testId?: string;
  className?: string;
}) {
  return (
    <span
      data-testid={testId}
      className={`${badge} ${className} ${on ? 'bg-green-100 text-green-800' : 'bg-slate-200 text-slate-700'}`}
    >
      {on ? yes : no}
    </span>
  );
}
