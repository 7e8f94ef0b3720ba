import type { ReactNode } from 'react';
import { buttonClass, plainButton } from './buttons';

/**
 * The second step of a destructive action: what will happen, a button that does it and one that
 * backs out, which takes the focus (it replaced the button that had it): a second Enter is safe.
 */
export function ConfirmStep({
  label,
  children,
  action,
  busy,
  onConfirm,
  onCancel,
}: {
  label: string;
  children: ReactNode;
  action: string;
  busy: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  return (
    <div
      role="group"
      aria-label={label}
      className="flex flex-wrap items-center gap-2 rounded border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900"
    >
      <span className="min-w-0 basis-full sm:basis-auto">{children}</span>
      <button type="button" disabled={busy} onClick={onConfirm} className={buttonClass}>
        {action}
      </button>
      <button type="button" autoFocus onClick={onCancel} className={plainButton}>
        Cancel
      </button>
    </div>
  );
}

/**
 * A row's destructive button (`button`, read out as `buttonLabel`) that becomes its ConfirmStep
 * while `asking`: the page keeps which row asks.
 */
export function ConfirmButton({
  asking,
  onAsk,
  button,
  buttonLabel,
  ...step
}: Parameters<typeof ConfirmStep>[0] & {
  asking: boolean;
  onAsk: () => void;
  button: string;
  buttonLabel: string;
}) {
  return asking ? (
    <ConfirmStep {...step} />
  ) : (
    <button type="button" onClick={onAsk} aria-label={buttonLabel} className={plainButton}>
      {button}
    </button>
  );
}
