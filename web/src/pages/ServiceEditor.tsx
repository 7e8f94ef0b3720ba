import { useCallback, useEffect, useMemo, useState } from 'react';
import YAML from 'yaml';
import type {
  FieldIssue,
  ProviderList,
  ServiceDryRun,
  ServiceRecordView,
  ServiceWrite,
} from '../../../src/api/views';
import { serviceSchema } from '../../../src/model/service';
import { api, ApiError, messageOf } from '../api';
import { buttonClass, plainButton } from '../components/buttons';
import { TextAreaField } from '../components/Field';
import { Notice } from '../components/Notice';
import { AccessEditor } from '../editor/AccessEditor';
import {
  asList,
  asObject,
  EditorContext,
  getAt,
  prune,
  serviceIssues,
  setAt,
  type EditorApi,
  type Json,
  type JsonObject,
} from '../editor/draft';
import { ReviewPanel } from '../editor/ReviewPanel';
import { RouteEditor } from '../editor/RouteEditor';
import { ServiceSection } from '../editor/ServiceSection';

/** GET /services/{name}, its service read as the editor's plain JSON draft. */
type Loaded = Omit<ServiceRecordView, 'service'> & { service: JsonObject };

const NEW = '+new';
/** What a save of a new service says, carried over the page change to its own editor. */
let carried = '';
const blank = (): JsonObject => ({
  hosts: [''],
  routes: [{ path: '/', upstreams: [''] }],
  access: { public: true },
});

/**
 * Edits one service (or a new one) with the model's own schema checking it as it is typed out,
 * then the API's dry run: its diff is shown before anything is saved, and the save refuses to
 * overwrite a change someone made meanwhile.
 */
export function ServiceEditor({ name: routeName }: { name: string }) {
  const isNew = routeName === NEW;
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [draft, setDraft] = useState<JsonObject | null>(isNew ? blank() : null);
  const [name, setName] = useState(isNew ? '' : routeName);
  const [issues, setIssues] = useState<FieldIssue[]>([]);
  const [general, setGeneral] = useState('');
  const [done, setDone] = useState(() => {
    const said = carried;
    carried = '';
    return said;
  });
  const [review, setReview] = useState<ServiceDryRun | null>(null);
  const [yaml, setYaml] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  /** Someone else changed the service since it was loaded: offer to load theirs. */
  const [stale, setStale] = useState(false);
  const [providers, setProviders] = useState<string[]>([]);

  const load = useCallback(async () => {
    setGeneral('');
    try {
      const p = await api<ProviderList>('GET', '/providers').catch(() => ({
        providers: [],
      }));
      setProviders(p.providers.map((x) => x.name));
      if (isNew) return;
      const r = await api<Loaded>('GET', `/services/${encodeURIComponent(routeName)}`);
      setLoaded(r);
      setDraft(r.service);
    } catch (e) {
      setGeneral(messageOf(e));
    }
  }, [isNew, routeName]);
  useEffect(() => void load(), [load]);

  const editor = useMemo<EditorApi | null>(
    () =>
      draft && {
        get: (path) => getAt(draft, path),
        set: (path, value) => {
          setDraft((d) => asObject(setAt(d ?? {}, path, value)));
          setReview(null);
          setDone('');
        },
        issues: serviceIssues(issues),
        providers,
      },
    [draft, issues, providers],
  );

  /** The service as it would be sent: the form's draft, or the YAML text when that is open. */
  function current(): JsonObject | undefined {
    if (yaml === null) return draft ? prune({ ...draft, name }) : undefined;
    try {
      const parsed = YAML.parse(yaml) as Json;
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        setGeneral('YAML: the service is a mapping (name: …, hosts: …, routes: …)');
        return undefined;
      }
      return { ...parsed, name };
    } catch (e) {
      setGeneral(`YAML: ${messageOf(e)}`);
      return undefined;
    }
  }

  function showErrors(list: FieldIssue[], message: string) {
    setIssues(list);
    setGeneral(message);
  }

  async function reviewChanges() {
    setGeneral('');
    setDone('');
    setReview(null);
    const svc = current();
    if (!svc) return;
    // The model's schema first, in the browser: the same messages the API would give, at once.
    const local = serviceSchema.safeParse(svc);
    if (!local.success) {
      const list = local.error.issues.map((i) => ({
        field: i.path.map(String).join('.') || '(root)',
        message: i.message,
      }));
      showErrors(list, `${list.length} field${list.length === 1 ? '' : 's'} to fix (marked below).`);
      return;
    }
    setBusy(true);
    try {
      const r = await api<ServiceDryRun>('PUT', `/services/${encodeURIComponent(name)}?dry_run=true`, svc);
      setIssues([]);
      setReview(r);
    } catch (e) {
      if (e instanceof ApiError && e.body.issues?.length) showErrors(e.body.issues, e.body.message);
      else setGeneral(messageOf(e));
    } finally {
      setBusy(false);
    }
  }

  async function save() {
    const svc = current();
    if (!svc) return;
    setBusy(true);
    try {
      const guard = loaded ? loaded.meta.updated_at : 'absent';
      const r = await api<Loaded & Pick<ServiceWrite, 'version'>>(
        'PUT',
        `/services/${encodeURIComponent(name)}?wait=true&if_updated_at=${encodeURIComponent(guard)}`,
        svc,
      );
      setLoaded(r);
      setDraft(r.service);
      if (yaml !== null) setYaml(YAML.stringify(r.service));
      setReview(null);
      setIssues([]);
      setDone(`Saved as version ${r.version}; the proxy serves it now.`);
      if (isNew) {
        carried = `Saved as version ${r.version}; the proxy serves it now.`;
        window.location.hash = `#/services/${encodeURIComponent(name)}`;
      }
    } catch (e) {
      setReview(null);
      if (e instanceof ApiError && e.body.issues?.length) showErrors(e.body.issues, e.body.message);
      else if (e instanceof ApiError && e.body.code === 'changed_meanwhile') {
        setGeneral(e.body.message);
        setStale(true);
      } else if (e instanceof ApiError && e.status >= 500) {
        // The write may be stored although the proxy did not confirm it (refused, or too slow):
        // what is stored now is the base of the next save, not what was loaded before.
        const fresh = await api<Loaded>('GET', `/services/${encodeURIComponent(name)}`).catch(() => null);
        if (fresh) setLoaded(fresh);
        setGeneral(
          fresh
            ? `Stored, but the proxy did not confirm it: ${e.body.message}`
            : `Not saved: ${e.body.message}`,
        );
        if (fresh && isNew) {
          carried = '';
          window.location.hash = `#/services/${encodeURIComponent(name)}`;
        }
      } else setGeneral(messageOf(e));
    } finally {
      setBusy(false);
    }
  }

  function reload() {
    setStale(false);
    setReview(null);
    setIssues([]);
    setYaml(null);
    void load();
  }

  async function remove() {
    setBusy(true);
    try {
      await api('DELETE', `/services/${encodeURIComponent(name)}?wait=true`);
      window.location.hash = '#/services';
    } catch (e) {
      setGeneral(messageOf(e));
      setConfirmDelete(false);
    } finally {
      setBusy(false);
    }
  }

  function toggleYaml() {
    if (yaml === null) {
      setYaml(YAML.stringify(prune({ ...(draft ?? {}), name })));
      return;
    }
    const svc = current();
    if (!svc) return;
    const rest = { ...svc };
    delete rest.name;
    setDraft(rest);
    setYaml(null);
    setGeneral('');
  }

  if (!editor) {
    return (
      <section className="flex flex-col gap-4">
        <a href="#/services" className="text-sm text-sky-700 underline">
          ← Services
        </a>
        {general ? (
          <Notice kind="error">{general}</Notice>
        ) : (
          <p className="text-sm text-slate-500">Loading…</p>
        )}
      </section>
    );
  }

  const routes = Array.isArray(draft?.routes) ? draft.routes : [];
  const tcp = Array.isArray(draft?.tcp) ? draft.tcp : [];
  const fromSource = loaded && loaded.meta.source !== 'api';
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
          <button type="button" className={plainButton} onClick={toggleYaml}>
            {yaml === null ? 'Edit as YAML' : 'Back to the form'}
          </button>
        </div>
        {fromSource ? (
          <Notice kind="warn">
            This service comes from {loaded.meta.source}
            {loaded.meta.owner ? ` (${loaded.meta.owner})` : ''}. Saving it here takes it over: that source
            will no longer change it.
          </Notice>
        ) : null}
        {general ? <Notice kind="error">{general}</Notice> : null}
        {stale ? (
          <div>
            <button type="button" className={plainButton} onClick={reload}>
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
        {yaml !== null ? (
          <TextAreaField
            label="Service (YAML)"
            value={yaml}
            onChange={(e) => {
              setYaml(e.target.value);
              setReview(null);
            }}
            rows={24}
            spellCheck={false}
            className="font-mono text-sm"
          />
        ) : (
          <>
            <ServiceSection
              draft={draft ?? {}}
              isNew={isNew}
              name={name}
              setName={(n) => {
                // A review was of the old name: it must not be saved under a new one.
                setName(n);
                setReview(null);
              }}
            />
            <AccessEditor path="access" title="Access (all routes, unless a route has its own)" />
            {editor.issues.at('routes') ? <Notice kind="error">{editor.issues.at('routes')}</Notice> : null}
            {routes.map((_, i) => (
              <RouteEditor key={i} index={i} count={routes.length} />
            ))}
            <div>
              <button
                type="button"
                className={plainButton}
                onClick={() =>
                  editor.set(`routes.${routes.length}`, {
                    path: `/path-${routes.length + 1}/`,
                    upstreams: [''],
                  })
                }
              >
                Add route
              </button>
            </div>
            {tcp.length ? (
              <p className="text-sm text-slate-600">
                {tcp.length} TCP route{tcp.length === 1 ? '' : 's'} (ports{' '}
                {asList(tcp.map((t) => asObject(t).port ?? '')).join(', ')}): edit them as YAML.
              </p>
            ) : null}
          </>
        )}
        {review ? (
          <ReviewPanel
            changes={review.changes}
            busy={busy}
            onSave={() => void save()}
            onBack={() => setReview(null)}
          />
        ) : (
          <div className="flex flex-wrap items-center gap-2">
            <button
              type="button"
              className={buttonClass}
              disabled={busy}
              onClick={() => void reviewChanges()}
            >
              {busy ? 'Checking…' : 'Review changes'}
            </button>
            {!isNew && loaded ? (
              confirmDelete ? (
                <span role="alert" className="flex flex-wrap items-center gap-2 text-sm">
                  Delete {routeName}? Its hosts stop being served.
                  <button type="button" className={plainButton} onClick={() => void remove()} disabled={busy}>
                    Confirm delete
                  </button>
                  <button
                    type="button"
                    className={plainButton}
                    autoFocus
                    onClick={() => setConfirmDelete(false)}
                  >
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
        )}
      </section>
    </EditorContext.Provider>
  );
}
