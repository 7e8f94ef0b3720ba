import { plainButton } from '../components/buttons';
import { Notice } from '../components/Notice';
import { AccessEditor } from './AccessEditor';
import { asList, asObject, useEditor, type JsonObject } from './draft';
import { RouteEditor } from './RouteEditor';
import { ServiceSection } from './ServiceSection';

/** The service as a form: the service's own fields, its access, its routes; TCP routes only as YAML. */
export function ServiceForm({
  draft,
  isNew,
  name,
  setName,
}: {
  draft: JsonObject;
  isNew: boolean;
  name: string;
  setName: (name: string) => void;
}) {
  const editor = useEditor();
  const routes = Array.isArray(draft.routes) ? draft.routes : [];
  const tcp = Array.isArray(draft.tcp) ? draft.tcp : [];
  return (
    <>
      <ServiceSection draft={draft} isNew={isNew} name={name} setName={setName} />
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
  );
}
