import type { FormEvent, ReactNode } from 'react';
import { buttonClass } from './buttons';
import { Outcome } from './Notice';

/** A form in a card of its own, named by its heading (an `h3` where it sits under a page's `h2`). */
export function FormCard({
  titleId,
  title,
  heading: Heading = 'h2',
  onSubmit,
  children,
}: {
  titleId: string;
  title: string;
  heading?: 'h2' | 'h3';
  onSubmit: (e: FormEvent) => void;
  children: ReactNode;
}) {
  return (
    <form
      onSubmit={onSubmit}
      aria-labelledby={titleId}
      className="flex flex-col gap-3 rounded-lg border border-slate-200 bg-white p-4"
    >
      <Heading id={titleId} className="font-semibold">
        {title}
      </Heading>
      {children}
    </form>
  );
}

/**
 * A form's end: the API's complaint, what the last send did (or `children`, where it is more than a
 * line), and the submit button, which says what it is doing while busy.
 */
export function FormFooter({
  error,
  done,
  busy,
  disabled,
  label,
  busyLabel,
  children,
}: {
  error: string;
  done?: string | null;
  busy: boolean;
  disabled?: boolean;
  label: string;
  busyLabel: string;
  children?: ReactNode;
}) {
  return (
    <>
      <Outcome error={error} done={done} />
      {children}
      <div>
        <button type="submit" disabled={busy || disabled} className={buttonClass}>
          {busy ? busyLabel : label}
        </button>
      </div>
    </>
  );
}
