import { useState } from 'react';
import type { ServiceList } from '../../../src/api/views';
import type { ServiceSummary } from '../../../src/model/summary';
import { api } from '../api';
import { plainButton } from '../components/buttons';
import { Field } from '../components/Field';
import { FormCard, FormFooter } from '../components/Form';
import { LoadedList } from '../components/LoadedList';
import { ErrorLine } from '../components/Notice';
import { Table } from '../components/Table';
import { useCreateForm } from '../hooks/useCreateForm';
import { useLoad } from '../hooks/useLoad';
import { usePoll } from '../hooks/usePoll';
import { useStream } from '../hooks/useStream';

const HEALTH_STYLE: Record<ServiceSummary['state'], string> = {
  failing: 'bg-red-100 text-red-800',
  down: 'bg-red-100 text-red-800',
  degraded: 'bg-amber-100 text-amber-800',
  up: 'bg-green-100 text-green-800',
  unchecked: 'bg-slate-100 text-slate-600',
  suspended: 'bg-amber-100 text-amber-800',
};

const HTTPS_WORDS: Record<ServiceSummary['https'], string> = {
  yes: 'yes',
  partial: 'some hosts',
  no: 'no certificate yet',
  off: 'off',
  '-': '—',
};

type FormField = 'name' | 'host' | 'upstream';

/** Which form field an API issue is about: `hosts.0` is the host, `routes.0.upstreams.0` the upstream. */
function fieldOf(f: string): FormField | undefined {
  if (f === 'name') return 'name';
  if (f.startsWith('hosts')) return 'host';
  if (f.startsWith('routes')) return 'upstream';
  return undefined;
}

function CreateForm({ existing, onCreated }: { existing: Set<string>; onCreated: () => void }) {
  const { general, field, result, busy, submit } = useCreateForm({
    initial: { name: '', host: '', upstream: '' },
    fieldOf,
    // PUT replaces a service of that name: a form that says "create" must not overwrite one.
    check: (v) =>
      existing.has(v.name.trim()) ? { name: 'a service with this name exists already' } : undefined,
    send: async (v) => {
      const name = v.name.trim();
      await api('PUT', `/services/${encodeURIComponent(name)}?wait=true`, {
        hosts: [v.host.trim()],
        routes: [{ upstreams: [v.upstream.trim()] }],
      });
      return `Created ${name}; the proxy serves it now.`;
    },
    onSent: onCreated,
  });

  return (
    <FormCard titleId="create-title" title="New service" onSubmit={submit}>
      <div className="grid gap-3 md:grid-cols-3">
        {/* Examples of the form each field takes (the README's): a host name is no upstream. */}
        <Field {...field('name')} label="Name" placeholder="whoami (a-z, 0-9, -)" required />
        <Field {...field('host')} label="Host" placeholder="whoami.example.com" required />
        <Field {...field('upstream')} label="Upstream" placeholder="IP:port, e.g. 192.0.2.10:8080" required />
      </div>
      <FormFooter error={general} done={result} busy={busy} label="Create service" busyLabel="Creating…" />
    </FormCard>
  );
}

/**
 * The services list with a filter, a quick form for a simple service (one host, one upstream), and
 * links to the full editor.
 */
export function Services() {
  const [filter, setFilter] = useState('');
  // Each service comes with the API's summary (the words `gatehouse service ls` uses too).
  const {
    data: items,
    error,
    load,
  } = useLoad(() => api<ServiceList>('GET', '/services').then((r) => r.services));
  // Upstream health changes without a registry change: the edge's reports say when.
  useStream({ edge: () => void load(), version: () => void load() });
  // Failures seen by nginx age out of their one-minute window without an event.
  usePoll(load, 15_000);

  const q = filter.trim().toLowerCase();
  const shown = (items ?? []).filter(
    (s) =>
      !q ||
      s.service.name.includes(q) ||
      s.service.hosts.some((h) => h.includes(q)) ||
      `${s.meta.source}:${s.meta.owner ?? ''}`.toLowerCase().includes(q),
  );

  return (
    <section aria-labelledby="svc-title" className="flex flex-col gap-6">
      <div className="flex flex-wrap items-center gap-3">
        <h1 id="svc-title" className="text-xl font-semibold">
          Services
        </h1>
        <a href="#/services/+new" className={plainButton}>
          New service in the full editor
        </a>
      </div>
      <CreateForm
        existing={new Set((items ?? []).map((s) => s.service.name))}
        onCreated={() => void load()}
      />
      <div className="flex flex-col gap-3">
        <div className="max-w-sm">
          <Field
            label="Filter"
            name="filter"
            type="search"
            placeholder="name, host or source"
            value={filter}
            onChange={(e) => setFilter(e.target.value)}
          />
        </div>
        <ErrorLine error={error} />
        <LoadedList items={items && shown} empty={items?.length ? 'No service matches.' : 'No services yet.'}>
          {(shown) => (
            <Table
              testId="services"
              columns={['Name', 'Hosts', 'Access', 'Upstreams', 'HTTPS', 'Health', 'Source']}
            >
              {shown.map((s) => {
                const sum = s.summary;
                return (
                  <tr key={s.service.name} className="border-t border-slate-100 align-top">
                    <td className="px-3 py-1.5 font-medium">
                      <a
                        href={`#/services/${encodeURIComponent(s.service.name)}`}
                        className="text-sky-700 underline focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500"
                      >
                        {s.service.name}
                      </a>
                    </td>
                    <td className="px-3 py-1.5">{s.service.hosts.join(', ')}</td>
                    <td className="px-3 py-1.5" data-testid="access">
                      <span
                        className={
                          'rounded px-1.5 py-0.5 ' +
                          (sum.public ? 'bg-amber-50 text-amber-900' : 'bg-sky-50 text-sky-900')
                        }
                      >
                        {sum.access}
                      </span>
                    </td>
                    <td className="px-3 py-1.5 font-mono text-xs" data-testid="upstreams">
                      {sum.upstreams.join(', ')}
                      {s.service.site && (
                        <span className="ml-1 font-sans text-slate-500" data-testid="site">
                          (site {s.service.site})
                        </span>
                      )}
                    </td>
                    <td className="px-3 py-1.5" data-testid="https">
                      {HTTPS_WORDS[sum.https]}
                    </td>
                    <td className="px-3 py-1.5">
                      <span
                        data-testid="health"
                        className={
                          'whitespace-nowrap rounded px-1.5 py-0.5 text-xs ' + HEALTH_STYLE[sum.state]
                        }
                      >
                        {sum.state_label}
                      </span>
                    </td>
                    <td className="px-3 py-1.5 text-slate-600">
                      {s.meta.source}
                      {s.meta.owner ? `:${s.meta.owner}` : ''}
                    </td>
                  </tr>
                );
              })}
            </Table>
          )}
        </LoadedList>
      </div>
    </section>
  );
}
