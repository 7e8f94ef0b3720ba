import type { ReactNode } from 'react';
import { useCopy } from '../hooks/useCopy';
import { buttonClass, plainButton } from './buttons';

/**
 * The API cannot know the address a machine reaches it by: its commands say `<this API's URL>`,
 * and the browser's own address is the best guess.
 */
export const withControlUrl = (command: string) =>
  command.replace("<this API's URL>", window.location.origin);

/** A read-only value with a Copy button (falls back to selecting it when there is no clipboard). */
export function CopyValue({
  label,
  value,
  multiline,
}: {
  label: string;
  value: string;
  multiline?: boolean;
}) {
  const { field, copied, copy } = useCopy<HTMLInputElement & HTMLTextAreaElement>(value);
  const cls = 'min-w-0 flex-1 rounded border border-slate-300 bg-white px-3 py-2 font-mono text-sm';
  return (
    <div className="flex flex-col gap-1">
      <span className="font-medium">{label}</span>
      <div className="flex flex-wrap items-start gap-2">
        {multiline ? (
          <textarea
            ref={field}
            readOnly
            aria-label={label}
            value={value}
            rows={3}
            onFocus={(e) => e.target.select()}
            className={cls + ' resize-y break-all'}
          />
        ) : (
          <input
            ref={field}
            readOnly
            aria-label={label}
            value={value}
            onFocus={(e) => e.target.select()}
            className={cls}
          />
        )}
        <button
          type="button"
          onClick={copy}
          aria-label={`Copy ${label.toLowerCase()}`}
          className={buttonClass}
        >
          Copy
        </button>
      </div>
      {copied ? <span className="text-xs">{copied}</span> : null}
    </div>
  );
}

/**
 * What is shown once after adding a node or a site: a sentence (announced), the token or command
 * to copy (never announced: a screen reader must not read a token aloud), and Done.
 */
export function OneTimePanel({
  status,
  onDone,
  children,
}: {
  status: ReactNode;
  onDone: () => void;
  children: ReactNode;
}) {
  return (
    <div className="flex flex-col gap-3 rounded border border-green-200 bg-green-50 p-3 text-sm text-green-900">
      <span role="status">{status}</span>
      {children}
      <div>
        <button type="button" onClick={onDone} className={plainButton}>
          Done
        </button>
      </div>
    </div>
  );
}
