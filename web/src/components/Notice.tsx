import type { ReactNode } from 'react';

/** A message above or below a form: `error` is announced at once, `ok` politely. */
export function Notice({ kind, children }: { kind: 'error' | 'ok' | 'warn'; children: ReactNode }) {
  const style =
    kind === 'error'
      ? 'border-red-200 bg-red-50 text-red-800'
      : kind === 'warn'
        ? 'border-amber-200 bg-amber-50 text-amber-900'
        : 'border-green-200 bg-green-50 text-green-800';
  return (
    <p role={kind === 'ok' ? 'status' : 'alert'} className={`rounded border px-3 py-2 text-sm ${style}`}>
      {children}
    </p>
  );
}

/** What the last read or action came to: its error, or the line saying what it did. */
export function Outcome({ error, done }: { error: string; done?: string | null | undefined }) {
  return (
    <>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {done ? <Notice kind="ok">{done}</Notice> : null}
    </>
  );
}

/** A short error inside a form or a list (a field group's complaint, a failed read), announced at once. */
export function ErrorLine({ error }: { error: ReactNode }) {
  return error ? (
    <p role="alert" className="text-sm text-red-700">
      {error}
    </p>
  ) : null;
}
