import type { FieldIssue } from '../../../src/api/views';
import { plainButton } from '../components/buttons';
import { Notice } from '../components/Notice';
import type { LoadedService } from './record';

/**
 * What the editor has to say above the form: a service another source owns, the error line, the
 * offer to load a version saved meanwhile (`onReload`), the fields to fix, and what a save did.
 */
export function ServiceNotices({
  loaded,
  general,
  stale,
  onReload,
  issues,
  done,
}: {
  loaded: LoadedService | null;
  general: string;
  stale: boolean;
  onReload: () => void;
  issues: FieldIssue[];
  done: string;
}) {
  const fromSource = loaded && loaded.meta.source !== 'api';
  return (
    <>
      {fromSource ? (
        <Notice kind="warn">
          This service comes from {loaded.meta.source}
          {loaded.meta.owner ? ` (${loaded.meta.owner})` : ''}. Saving it here takes it over: that source will
          no longer change it.
        </Notice>
      ) : null}
      {general ? <Notice kind="error">{general}</Notice> : null}
      {stale ? (
        <div>
          <button type="button" className={plainButton} onClick={onReload}>
            Load their version (your edits here are dropped)
          </button>
        </div>
      ) : null}
      {issues.length ? (
        <ul aria-label="Fields to fix" className="list-disc pl-6 text-sm text-red-800">
          {issues.map((i, n) => (
            <li key={n}>
              <code>{i.field.replace(/^body\./, '')}</code>: {i.message}
            </li>
          ))}
        </ul>
      ) : null}
      {done ? <Notice kind="ok">{done}</Notice> : null}
    </>
  );
}
