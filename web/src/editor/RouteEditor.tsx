import { LimitsEditor } from './LimitsEditor';
import { plainButton } from '../components/buttons';
import { CheckboxField, SelectField } from '../components/Field';
import { AccessEditor } from './AccessEditor';
import { asString, useEditor } from './draft';
import { HeaderRows, ListText, Rows, Section, TextAt } from './parts';

const LB = [
  { value: 'round_robin', label: 'round robin' },
  { value: 'least_conn', label: 'fewest connections' },
  { value: 'ip_hash', label: 'by client address (sticky)' },
  { value: 'first', label: 'first healthy (failover)' },
];

/** One HTTP route: where it matches, where it goes, how upstreams are checked, headers, access. */
export function RouteEditor({ index, count }: { index: number; count: number }) {
  const ed = useEditor();
  const p = `routes.${index}`;
  const health = ed.get(`${p}.health`) !== undefined;
  const n = index + 1;
  return (
    <Section
      title={`Route ${n}: ${asString(ed.get(`${p}.path`)) || '/'}`}
      error={ed.issues.at(p)}
      actions={
        count > 1 ? (
          <button type="button" className={plainButton} onClick={() => ed.set(p, undefined)}>
            Remove route {n}
          </button>
        ) : null
      }
    >
      <div className="grid gap-3 md:grid-cols-2">
        <TextAt path={`${p}.path`} label={`Route ${n}: path`} placeholder="/" />
        <SelectField
          label={`Route ${n}: balancing`}
          value={asString(ed.get(`${p}.lb`)) || 'round_robin'}
          onChange={(e) => ed.set(`${p}.lb`, e.target.value)}
          options={LB}
          error={ed.issues.under(`${p}.lb`)}
        />
      </div>
      <Rows
        path={`${p}.upstreams`}
        label={`Route ${n}: upstreams`}
        itemLabel={`Route ${n} upstream`}
        placeholder="10.0.0.5:8080 or https://10.0.0.5:8443"
        addLabel="Add upstream"
      />
      <CheckboxField
        label="Strip the path prefix before passing the request on"
        checked={ed.get(`${p}.strip_prefix`) === true}
        onChange={(e) => ed.set(`${p}.strip_prefix`, e.target.checked)}
      />
      <CheckboxField
        label="Health check"
        checked={health}
        onChange={(e) =>
          ed.set(`${p}.health`, e.target.checked ? { path: '/', interval: '10s', timeout: '2s' } : undefined)
        }
      />
      {health ? (
        <div className="grid gap-3 border-l-2 border-slate-100 pl-3 md:grid-cols-3">
          <TextAt path={`${p}.health.path`} label="Health: path" placeholder="/health" required />
          <TextAt path={`${p}.health.interval`} label="Health: every" placeholder="10s" />
          <TextAt path={`${p}.health.timeout`} label="Health: timeout" placeholder="2s" />
        </div>
      ) : null}
      <details className="rounded border border-slate-200 p-3" open={ed.get(`${p}.headers`) !== undefined}>
        <summary className="cursor-pointer text-sm font-medium">Headers</summary>
        <div className="mt-3 flex flex-col gap-4">
          <HeaderRows path={`${p}.headers.request.set`} label="Request header" />
          <ListText
            path={`${p}.headers.request.delete`}
            label="Request headers to remove"
            hint="X-Forwarded-Host"
          />
          <HeaderRows path={`${p}.headers.response.set`} label="Response header" />
          <ListText path={`${p}.headers.response.delete`} label="Response headers to remove" hint="Server" />
        </div>
      </details>
      <LimitsEditor
        path={`${p}.limits`}
        label={`Route ${n}: own limits (otherwise: the service's)`}
        prefix={`Route ${n} limits: `}
      />
      <AccessEditor path={`${p}.access`} title={`Route ${n}: access`} inherit="the service's access" />
    </Section>
  );
}
