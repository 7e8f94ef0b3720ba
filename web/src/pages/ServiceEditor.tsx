import { plainButton } from '../components/buttons';
import { TextAreaField } from '../components/Field';
import { Notice } from '../components/Notice';
import { EditorContext } from '../editor/draft';
import { ReviewPanel } from '../editor/ReviewPanel';
import { ServiceActions } from '../editor/ServiceActions';
import { ServiceForm } from '../editor/ServiceForm';
import { ServiceNotices } from '../editor/ServiceNotices';
import { useServiceDraft } from '../editor/useServiceDraft';
import { useServiceSave } from '../editor/useServiceSave';

/**
 * Edits one service (or a new one) with the model's own schema checking it as it is typed out,
 * then the API's dry run: its diff is shown before anything is saved, and the save refuses to
 * overwrite a change someone made meanwhile.
 */
export function ServiceEditor({ name: routeName }: { name: string }) {
  const d = useServiceDraft(routeName);
  const flow = useServiceSave(d);
  const { editor, isNew, yaml, review } = d;

  if (!editor) {
    return (
      <section className="flex flex-col gap-4">
        <a href="#/services" className="text-sm text-sky-700 underline">
          ← Services
        </a>
        {d.general ? (
          <Notice kind="error">{d.general}</Notice>
        ) : (
          <p className="text-sm text-slate-500">Loading…</p>
        )}
      </section>
    );
  }

  return (
    <EditorContext.Provider value={editor}>
      <section aria-labelledby="edit-title" className="flex flex-col gap-4">
        <a href="#/services" className="text-sm text-sky-700 underline">
          ← Services
        </a>
        <div className="flex flex-wrap items-center gap-3">
          <h1 id="edit-title" className="text-xl font-semibold">
            {isNew ? 'New service' : `Service ${routeName}`}
          </h1>
          <button type="button" className={plainButton} onClick={d.toggleYaml}>
            {yaml === null ? 'Edit as YAML' : 'Back to the form'}
          </button>
        </div>
        <ServiceNotices
          loaded={d.loaded}
          general={d.general}
          stale={flow.stale}
          onReload={flow.reload}
          issues={d.issues}
          done={d.done}
        />
        {yaml !== null ? (
          <TextAreaField
            label="Service (YAML)"
            value={yaml}
            onChange={(e) => d.editYaml(e.target.value)}
            rows={24}
            spellCheck={false}
            className="font-mono text-sm"
          />
        ) : (
          <ServiceForm draft={d.draft ?? {}} isNew={isNew} name={d.name} setName={d.rename} />
        )}
        {review ? (
          <ReviewPanel
            changes={review.changes}
            busy={flow.busy}
            onSave={() => void flow.save()}
            onBack={() => d.setReview(null)}
          />
        ) : (
          <ServiceActions
            busy={flow.busy}
            onReview={() => void flow.reviewChanges()}
            serviceName={routeName}
            canDelete={!isNew && d.loaded !== null}
            confirmDelete={flow.confirmDelete}
            setConfirmDelete={flow.setConfirmDelete}
            onDelete={() => void flow.remove()}
          />
        )}
      </section>
    </EditorContext.Provider>
  );
}
