import type { ServiceDiffView } from '../../../src/api/views';
import { buttonClass, plainButton } from '../components/buttons';
import { Patch } from '../components/Patch';

/** What a save would change, as the API's dry run reported it; saving is only offered from here. */
export function ReviewPanel({
  changes,
  busy,
  onSave,
  onBack,
}: {
  changes: ServiceDiffView[];
  busy: boolean;
  onSave: () => void;
  onBack: () => void;
}) {
  return (
    <div
      role="region"
      aria-labelledby="review-title"
      className="flex flex-col gap-3 rounded-lg border border-sky-200 bg-sky-50 p-4"
    >
      <h2 id="review-title" className="font-semibold">
        Changes to save
      </h2>
      {changes.length === 0 ? (
        <p className="text-sm">Nothing would change.</p>
      ) : (
        <div data-testid="review-diff">
          {changes.map((c) => (
            <Patch key={c.name} patch={c.patch} />
          ))}
        </div>
      )}
      <div className="flex flex-wrap gap-2">
        {changes.length ? (
          <button type="button" className={buttonClass} disabled={busy} onClick={onSave}>
            {busy ? 'Saving…' : 'Save changes'}
          </button>
        ) : null}
        <button type="button" className={plainButton} onClick={onBack}>
          Keep editing
        </button>
      </div>
    </div>
  );
}
