/** The primary button (Create, Save, Sign in, …). */
export const buttonClass =
  'rounded bg-slate-900 px-4 py-2 text-sm font-medium text-white hover:bg-slate-700 disabled:opacity-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500 focus-visible:ring-offset-2';

/** A secondary button (Refresh, Cancel, Revoke, …). */
export const plainButton =
  'rounded border border-slate-300 px-3 py-1.5 text-sm hover:bg-slate-100 disabled:opacity-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500';

/** Reads a list again on demand (the lists also read again after each change made here). */
export function RefreshButton({ onClick }: { onClick: () => void }) {
  return (
    <button type="button" onClick={onClick} className={plainButton}>
      Refresh
    </button>
  );
}
