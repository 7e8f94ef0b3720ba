import { buttonClass, plainButton } from '../components/buttons';

/**
 * Below the form: the review that leads to a save, and deleting a stored service (`canDelete`)
 * after a confirmation.
 */
export function ServiceActions({
  busy,
  onReview,
  serviceName,
  canDelete,
  confirmDelete,
  setConfirmDelete,
  onDelete,
}: {
  busy: boolean;
  onReview: () => void;
  serviceName: string;
  canDelete: boolean;
  confirmDelete: boolean;
  setConfirmDelete: (confirm: boolean) => void;
  onDelete: () => void;
}) {
  return (
    <div className="flex flex-wrap items-center gap-2">
      <button type="button" className={buttonClass} disabled={busy} onClick={onReview}>
        {busy ? 'Checking…' : 'Review changes'}
      </button>
      {canDelete ? (
        confirmDelete ? (
          <span role="alert" className="flex flex-wrap items-center gap-2 text-sm">
            Delete {serviceName}? Its hosts stop being served.
            <button type="button" className={plainButton} onClick={onDelete} disabled={busy}>
              Confirm delete
            </button>
            <button type="button" className={plainButton} autoFocus onClick={() => setConfirmDelete(false)}>
              Cancel
            </button>
          </span>
        ) : (
          <button type="button" className={plainButton} onClick={() => setConfirmDelete(true)}>
            Delete service
          </button>
        )
      ) : null}
    </div>
  );
}
