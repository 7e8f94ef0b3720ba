import { useState } from 'react';
import type { DnsProviderList, DnsProviderView } from '../../../../src/api/views';
import { api } from '../../api';
import { plainButton, RefreshButton } from '../../components/buttons';
import { ConfirmButton } from '../../components/ConfirmStep';
import { Field, SelectField, TextAreaField } from '../../components/Field';
import { FormCard, FormFooter } from '../../components/Form';
import { LoadedList } from '../../components/LoadedList';
import { Notice, Outcome } from '../../components/Notice';
import { actionsColumn, Table } from '../../components/Table';
import { local, relative } from '../../components/when';
import { useAction } from '../../hooks/useAction';
import { useCreateForm } from '../../hooks/useCreateForm';
import { useLoad } from '../../hooks/useLoad';
import {
  bodyOf,
  checkProvider,
  DNS_TYPES,
  EMPTY_PROVIDER,
  isSealed,
  providerFieldOf,
  TYPE_FIELDS,
  TYPE_LABELS,
  type DnsType,
  type FieldSpec,
} from './providerForm';

/** What the last add came to: the provider, and the server's check of its zone. */
interface Added {
  name: string;
  zone: string;
  check: DnsProviderView['zone_check'];
}

/** A sealed textarea (an exec hook's environment): typed blind, as a password is. */
const masked = 'font-mono text-sm [-webkit-text-security:disc]';

function AddedNotice({ added }: { added: Added }) {
  const saved = `Added ${added.name} for ${added.zone}.`;
  if (added.check?.state === 'unreachable')
    return (
      <Notice kind="warn">
        {saved} Its zone could not be checked, so it is not known yet whether the provider holds it:{' '}
        <span data-testid="zone-check">{added.check.message ?? 'no answer'}</span>
      </Notice>
    );
  return (
    <Notice kind="ok">
      {saved}
      {added.check?.state === 'held' ? ' The provider holds the zone.' : ''}
    </Notice>
  );
}

function AddProvider({ onAdded }: { onAdded: () => void }) {
  const { values, setValues, field, general, result, busy, submit } = useCreateForm({
    initial: EMPTY_PROVIDER,
    fieldOf: providerFieldOf,
    check: checkProvider,
    send: async (v): Promise<Added> => {
      const built = bodyOf(v);
      if (!built.ok) throw new Error(built.message);
      const r = await api<DnsProviderView>('POST', '/dns-providers', built.body);
      return { name: r.name, zone: r.zone, check: r.zone_check };
    },
    // The secrets leave the page once stored: every field empties, the type stays.
    after: (sent) => ({ ...EMPTY_PROVIDER, type: sent.type }),
    onSent: onAdded,
  });

  const input = (f: FieldSpec) => {
    const common = { ...field(f.key), label: f.label, placeholder: f.placeholder, required: f.required };
    if (f.options) return <SelectField {...common} options={f.options} />;
    if (f.lines)
      return (
        <TextAreaField
          {...common}
          rows={3}
          autoCapitalize="none"
          spellCheck={false}
          autoComplete="off"
          className={f.secret ? masked : 'font-mono text-sm'}
        />
      );
    return (
      <Field
        {...common}
        type={f.secret ? 'password' : 'text'}
        autoComplete={f.secret ? 'new-password' : 'off'}
        autoCapitalize="none"
        spellCheck={false}
      />
    );
  };

  return (
    <FormCard titleId="dns-prov-add-title" title="Add DNS provider" heading="h3" onSubmit={submit}>
      <p className="text-sm text-slate-600">
        Gatehouse writes records in the zone through it: TXT records for DNS-01 certificates (wildcards too)
        and the external records of the hosts it serves. Secrets are sealed and never shown again.
      </p>
      <div className="grid gap-3 md:grid-cols-2">
        <div className="md:col-span-2">
          <SelectField
            {...field('type')}
            onChange={(e) => setValues((v) => ({ ...v, type: e.target.value as DnsType }))}
            label="Type"
            options={DNS_TYPES.map((t) => ({ value: t, label: TYPE_LABELS[t] }))}
          />
        </div>
        <Field {...field('name')} label="Name" placeholder="home-bind" required autoCapitalize="none" />
        <Field
          {...field('zone')}
          label="Zone"
          placeholder="example.com"
          required
          autoCapitalize="none"
          spellCheck={false}
        />
        {TYPE_FIELDS[values.type].map((f) => (
          <div key={`${values.type}-${f.key}`} className={f.wide ? 'md:col-span-2' : undefined}>
            {input(f)}
          </div>
        ))}
      </div>
      <FormFooter
        error={general}
        busy={busy}
        label="Add DNS provider"
        busyLabel="Adding and checking the zone…"
      >
        {result ? <AddedNotice added={result} /> : null}
      </FormFooter>
    </FormCard>
  );
}

/** A provider's settings without its secrets (the server never sends them); sealed ones named. */
function Settings({ p }: { p: DnsProviderView }) {
  const shown = Object.entries(p.config).filter(
    ([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0),
  );
  const sealed = DNS_TYPES.includes(p.type as DnsType)
    ? Object.keys(EMPTY_PROVIDER).filter((k) => isSealed(p.type as DnsType, k))
    : [];
  return (
    <dl className="grid grid-cols-[auto_1fr] gap-x-2 font-mono text-xs">
      {shown.map(([k, v]) => (
        <div key={k} className="contents">
          <dt className="text-slate-500">{k}</dt>
          <dd className="break-all">{Array.isArray(v) ? v.join(', ') : String(v)}</dd>
        </div>
      ))}
      {sealed.map((k) => (
        <div key={k} className="contents">
          <dt className="text-slate-500">{k}</dt>
          <dd className="font-sans text-slate-500 italic">sealed</dd>
        </div>
      ))}
    </dl>
  );
}

/**
 * DNS providers (issue 17): the ones stored (never a secret), a form for a new one checked with the
 * model's schema before it is sent, removal after a confirmation. Self-contained: reads and writes
 * /api/v1/dns-providers itself; `onChanged` lets the page read what depends on them again.
 */
export function DnsProviders({ onChanged }: { onChanged?: () => void }) {
  const [open, setOpen] = useState(false);
  const [confirming, setConfirming] = useState('');
  const { data, error, setError, load } = useLoad(() => api<DnsProviderList>('GET', '/dns-providers'));
  const { busy, done, setDone, run } = useAction(setError);

  const remove = (name: string) =>
    run(async () => {
      setError('');
      await api('DELETE', `/dns-providers/${encodeURIComponent(name)}`);
      setConfirming('');
      setDone(`Removed ${name}.`);
      onChanged?.();
      await load();
    });

  return (
    <section
      aria-labelledby="dns-prov-title"
      className="flex flex-col gap-3"
      data-testid="dns-provider-setup"
    >
      <div className="flex flex-wrap items-center gap-x-3 gap-y-2">
        <h2 id="dns-prov-title" className="font-semibold">
          DNS providers
        </h2>
        <div className="flex gap-3">
          <button
            type="button"
            className={plainButton}
            aria-expanded={open}
            onClick={() => setOpen((o) => !o)}
          >
            {open ? 'Hide the form' : 'Add DNS provider'}
          </button>
          <RefreshButton onClick={() => void load()} />
        </div>
      </div>
      {open ? (
        <AddProvider
          onAdded={() => {
            setDone('');
            onChanged?.();
            void load();
          }}
        />
      ) : null}
      <Outcome error={error} done={done} />
      <LoadedList
        items={data?.providers}
        empty="No DNS providers yet: no wildcard certificates (DNS-01) and no external records."
      >
        {(providers) => (
          <Table
            testId="dns-provider-list"
            columns={['Name', 'Type', 'Zone', 'Settings', 'Added', actionsColumn]}
          >
            {providers.map((p) => (
              <tr key={p.name} className="border-t border-slate-100 align-top" data-provider={p.name}>
                <td className="px-3 py-1.5 font-medium">{p.name}</td>
                <td className="px-3 py-1.5">{p.type}</td>
                <td className="px-3 py-1.5 break-all">{p.zone}</td>
                <td className="px-3 py-1.5" data-testid="settings">
                  <Settings p={p} />
                </td>
                <td className="px-3 py-1.5 whitespace-nowrap" title={local(p.created_at)}>
                  {relative(p.created_at)}
                </td>
                <td className="px-3 py-1.5 text-right">
                  <ConfirmButton
                    asking={confirming === p.name}
                    onAsk={() => setConfirming(p.name)}
                    button="Remove"
                    buttonLabel={`Remove DNS provider ${p.name}`}
                    label={`Confirm removing DNS provider ${p.name}`}
                    action={busy ? 'Removing…' : 'Remove provider'}
                    busy={busy}
                    onConfirm={() => void remove(p.name)}
                    onCancel={() => setConfirming('')}
                  >
                    Remove {p.name}? Gatehouse stops writing records in {p.zone} through it (DNS-01, external
                    records); records it already wrote there are not removed.
                  </ConfirmButton>
                </td>
              </tr>
            ))}
          </Table>
        )}
      </LoadedList>
    </section>
  );
}
