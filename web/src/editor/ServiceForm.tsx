import type { ComponentProps } from 'react';
import { plainButton } from '../components/buttons';
import { Notice } from '../components/Notice';
import { AccessEditor } from './AccessEditor';
import { asList, asObject, useEditor } from './draft';
import { RouteEditor } from './RouteEditor';
import { ServiceSection } from './ServiceSection';

/** The service as a form: the service's own fields, its access, its routes; TCP routes only as YAML. */
export function ServiceForm(props: ComponentProps<typeof ServiceSection>) {
  const editor = useEditor();
  const routes = Array.isArray(props.draft.routes) ? props.draft.routes : [];
  const tcp = Array.isArray(props.draft.tcp) ? props.draft.tcp : [];
  return (
    <>
      <ServiceSection {...props} />
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
