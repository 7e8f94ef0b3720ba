import { useState } from 'react';
import type {
  LinkCreated,
  LinkDetail,
  LinkList,
  LinkView,
  ServiceList,
  ServiceListItem,
} from '../../../src/api/views';
import { api, messageOf } from '../api';
import { buttonClass, plainButton, RefreshButton } from '../components/buttons';
import { Field, SelectField } from '../components/Field';
import { FormCard, FormFooter } from '../components/Form';
import { LoadedList } from '../components/LoadedList';
import { ErrorLine } from '../components/Notice';
import { Table } from '../components/Table';
import { local } from '../components/when';
import { LINK_TTL_DEFAULT } from '../defaults';
import { useCopy } from '../hooks/useCopy';
import { useCreateForm } from '../hooks/useCreateForm';
import { useLoad } from '../hooks/useLoad';

/** A service takes links when it, or one of its routes, says `access.links`. */
function takesLinks(s: ServiceListItem): boolean {
  return !!s.service.access?.links || s.service.routes.some((r) => !!r.access?.links);
}

function CreatedUrl({ url }: { url: string }) {
  const { field, copied, copy } = useCopy(url);
  return (
    <div className="flex flex-col gap-2 rounded border border-green-200 bg-green-50 p-3 text-sm text-green-900">
      {/* Only the sentence is announced: a screen reader must not read the link's secret aloud. */}
      <span role="status">Link created. Its URL is shown only now:</span>
      <div className="flex flex-wrap gap-2">
        <input
          ref={field}
          readOnly
          aria-label="Link URL"
          value={url}
          onFocus={(e) => e.target.select()}
          className="min-w-0 flex-1 rounded border border-slate-300 bg-white px-3 py-2 font-mono text-sm"
        />
        <button type="button" onClick={copy} className={buttonClass}>
          Copy
        </button>
      </div>
      {copied ? <span>{copied}</span> : null}
    </div>
  );
}

function CreateForm({ services, onCreated }: { services: string[]; onCreated: () => void }) {
  const {
    values,
    field,
    set,
    general: error,
    result: url,
    busy,
    submit,
  } = useCreateForm({
    initial: { service: '', ttl: LINK_TTL_DEFAULT, max_ips: '1', password: '', note: '', bandwidth: '' },
    send: async (v) => {
      const r = await api<LinkCreated>('POST', '/links', {
        service: (v.service || services[0] || '').trim(),
        ttl: v.ttl.trim(),
        max_ips: Number(v.max_ips),
        note: v.note,
        ...(v.password ? { password: v.password } : {}),
        ...(v.bandwidth.trim() ? { bandwidth: v.bandwidth.trim() } : {}),
      });
      return r.url;
    },
    after: (v) => ({ ...v, password: '', note: '' }),
    onSent: onCreated,
  });
  const service = values.service || services[0] || '';

  return (
    <FormCard titleId="link-create-title" title="New temporary link" onSubmit={submit}>
      <div className="grid gap-3 md:grid-cols-3">
        {services.length ? (
          <SelectField label="Service" value={service} onChange={set('service')} options={services} />
        ) : (
          // No service takes links yet: say what one needs, since the list to choose from is empty.
          <Field
            label="Service"
            name="service"
            placeholder="a service with links: true"
            required
            value={values.service}
            onChange={set('service')}
          />
        )}
        <Field {...field('ttl')} label="Lifetime" placeholder={LINK_TTL_DEFAULT} required />
        <Field {...field('max_ips')} label="Addresses (max)" type="number" min={1} max={1000} required />
        <Field
          {...field('password')}
          label="Password (optional)"
          type="password"
          autoComplete="new-password"
        />
        <Field
          {...field('bandwidth')}
          label="Bandwidth (optional)"
          placeholder="e.g. 512k a second; empty: no limit"
        />
        <div className="md:col-span-2">
          <Field
            label="Note"
            name="note"
            placeholder="who it is for, e.g. the plumber"
            value={values.note}
            onChange={set('note')}
          />
        </div>
      </div>
      <FormFooter error={error} busy={busy} label="Create link" busyLabel="Creating…">
        {url ? <CreatedUrl url={url} /> : null}
      </FormFooter>
    </FormCard>
  );
}

/** Every opening of one link: when, from where, with what browser, and whether it admitted. */
function UsageLog({ link, onClose }: { link: LinkView; onClose: () => void }) {
  const { data: uses, error } = useLoad(() =>
    api<LinkDetail>('GET', `/links/${encodeURIComponent(link.id)}`).then((r) => r.uses),
  );
  return (
    <div role="region" aria-labelledby="usage-title" className="flex flex-col gap-2">
      <div className="flex items-center gap-3">
        <h2 id="usage-title" className="font-semibold">
          Usage of the link for {link.service}
          {link.note ? ` (${link.note})` : ''}
        </h2>
        <button type="button" className={plainButton} onClick={onClose}>
          Close
        </button>
      </div>
      {error ? (
        <ErrorLine error={error} />
      ) : (
        <LoadedList items={uses} empty="Not opened yet.">
          {(uses) => (
            <Table testId="link-uses" columns={['When', 'Address', 'Outcome', 'Browser']}>
              {uses.map((u) => (
                <tr key={u.id} className="border-t border-slate-100">
                  <td className="whitespace-nowrap px-3 py-1.5">{local(u.at)}</td>
                  <td className="px-3 py-1.5 font-mono">{u.ip}</td>
                  <td className="px-3 py-1.5">{u.outcome}</td>
                  <td className="max-w-xs truncate px-3 py-1.5 text-slate-600" title={u.user_agent}>
                    {u.user_agent}
                  </td>
                </tr>
              ))}
            </Table>
          )}
        </LoadedList>
      )}
    </div>
  );
}

/** Temporary links: make one for a service, see who used it, revoke it. */
export function Links() {
  const [usage, setUsage] = useState<LinkView | null>(null);
  const [busyId, setBusyId] = useState('');
  /** The link whose Revoke was pressed once: a second step confirms it. */
  const [confirming, setConfirming] = useState('');

  const { data, error, setError, load } = useLoad(async () => {
    const [l, s] = await Promise.all([api<LinkList>('GET', '/links'), api<ServiceList>('GET', '/services')]);
    return { links: l.links, services: s.services.filter(takesLinks).map((x) => x.service.name) };
  });
  const links = data?.links ?? null;
  const services = data?.services ?? [];

  async function revoke(id: string) {
    setConfirming('');
    setBusyId(id);
    try {
      await api('DELETE', `/links/${encodeURIComponent(id)}`);
      await load();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusyId('');
    }
  }

  return (
    <section aria-labelledby="links-title" className="flex flex-col gap-6">
      <h1 id="links-title" className="text-xl font-semibold">
        Links
      </h1>
      <CreateForm services={services} onCreated={() => void load()} />
      <div className="flex items-center gap-3">
        <h2 className="font-semibold">Existing links</h2>
        <RefreshButton onClick={() => void load()} />
      </div>
      <ErrorLine error={error} />
      <LoadedList items={links} empty="No links yet.">
        {(links) => (
          <Table
            testId="links"
            columns={[
              'Service',
              'Note',
              'Expires',
              'Addresses',
              'State',
              <span className="sr-only">Actions</span>,
            ]}
          >
            {links.map((l) => (
              <tr key={l.id} className="border-t border-slate-100" data-link-id={l.id}>
                <td className="px-3 py-1.5 font-medium">{l.service}</td>
                <td className="px-3 py-1.5">{l.note}</td>
                <td className="whitespace-nowrap px-3 py-1.5">{local(l.expires_at)}</td>
                <td className="px-3 py-1.5" title={l.ips.map((i) => i.ip).join(', ')}>
                  {l.ips.length} / {l.max_ips}
                  {l.bandwidth ? (
                    <span className="block text-xs text-slate-500">at {l.bandwidth}/s each</span>
                  ) : null}
                  {l.ips.length ? (
                    <span className="block font-mono text-xs text-slate-500">
                      {l.ips.map((i) => i.ip).join(', ')}
                    </span>
                  ) : null}
                </td>
                <td className="px-3 py-1.5">{l.state}</td>
                <td className="flex justify-end gap-2 px-3 py-1.5">
                  <button
                    type="button"
                    onClick={() => setUsage(l)}
                    aria-label={`Usage of link for ${l.service}${l.note ? ` (${l.note})` : ''}`}
                    className={plainButton}
                  >
                    Usage
                  </button>
                  {l.state !== 'active' ? null : confirming === l.id ? (
                    <>
                      <button
                        type="button"
                        disabled={busyId === l.id}
                        onClick={() => void revoke(l.id)}
                        className={buttonClass}
                      >
                        Confirm revoke
                      </button>
                      <button
                        type="button"
                        autoFocus
                        onClick={() => setConfirming('')}
                        className={plainButton}
                      >
                        Cancel
                      </button>
                    </>
                  ) : (
                    <button
                      type="button"
                      onClick={() => setConfirming(l.id)}
                      aria-label={`Revoke link for ${l.service}${l.note ? ` (${l.note})` : ''}`}
                      className={plainButton}
                    >
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </Table>
        )}
      </LoadedList>
      {usage ? <UsageLog key={usage.id} link={usage} onClose={() => setUsage(null)} /> : null}
    </section>
  );
}
