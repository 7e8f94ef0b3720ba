import { useState } from 'react';
import type { ProviderList, ProviderView } from '../../../src/api/views';
import { api } from '../api';
import { RefreshButton } from '../components/buttons';
import { ConfirmButton } from '../components/ConfirmStep';
import { CheckboxField, Field, TextAreaField } from '../components/Field';
import { FormCard, FormFooter } from '../components/Form';
import { LoadedList } from '../components/LoadedList';
import { Outcome } from '../components/Notice';
import { Table } from '../components/Table';
import { useAction } from '../hooks/useAction';
import { useCreateForm } from '../hooks/useCreateForm';
import { useLoad } from '../hooks/useLoad';

type ProviderField =
  | 'name'
  | 'label'
  | 'issuer'
  | 'client_id'
  | 'client_secret'
  | 'scopes'
  | 'groups_claim'
  | 'username_claim'
  | 'group_map';

const TEXT_FIELDS = [
  'name',
  'label',
  'issuer',
  'client_id',
  'client_secret',
  'groups_claim',
  'username_claim',
];

function providerFieldOf(f: string): ProviderField | undefined {
  if (TEXT_FIELDS.includes(f)) return f as ProviderField;
  if (f.startsWith('scopes')) return 'scopes';
  if (f.startsWith('group_map')) return 'group_map';
  return undefined;
}

const EMPTY = {
  name: '',
  label: '',
  issuer: '',
  client_id: '',
  client_secret: '',
  scopes: 'openid email profile groups',
  groups_claim: 'groups',
  username_claim: 'preferred_username',
  group_map: '',
  groups_passthrough: false,
};

/** `engineers=engineering` per line (or comma): provider group → local group. */
function parseGroupMap(text: string): Record<string, string> | string {
  const map: Record<string, string> = {};
  for (const raw of text.split(/[\n,]/)) {
    const line = raw.trim();
    if (!line) continue;
    const eq = line.lastIndexOf('=');
    if (eq <= 0 || eq === line.length - 1) return `"${line}" is not provider-group=local-group`;
    map[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return map;
}

function AddProvider({
  onCreated,
  redirectUri,
}: {
  onCreated: () => void;
  redirectUri: string | null | undefined;
}) {
  const { values, field, setValues, general, result, busy, submit } = useCreateForm({
    initial: EMPTY,
    fieldOf: providerFieldOf,
    check: (v) => {
      const groupMap = parseGroupMap(v.group_map);
      return typeof groupMap === 'string' ? { group_map: groupMap } : undefined;
    },
    send: async (v) => {
      const name = v.name.trim();
      await api<ProviderView>('POST', '/providers', {
        name,
        ...(v.label.trim() ? { label: v.label.trim() } : {}),
        issuer: v.issuer.trim(),
        client_id: v.client_id.trim(),
        client_secret: v.client_secret,
        scopes: v.scopes.split(/[\s,]+/).filter(Boolean),
        groups_claim: v.groups_claim.trim(),
        username_claim: v.username_claim.trim(),
        group_map: parseGroupMap(v.group_map),
        groups_passthrough: v.groups_passthrough,
      });
      // The secret is stored sealed and never comes back: it leaves the page too (the values reset).
      return `Added ${name}: the login portal offers it now.`;
    },
    onSent: onCreated,
  });

  return (
    <FormCard titleId="prov-create-title" title="New OIDC provider" onSubmit={submit}>
      <p className="text-sm text-slate-600" data-testid="redirect-uri">
        {redirectUri === undefined ? null : redirectUri ? (
          <>
            At the provider, register the redirect URI <code className="break-all">{redirectUri}</code>
          </>
        ) : (
          'There is no sign-in portal (set base_domain or auth_host): providers cannot send users back.'
        )}
      </p>
      <div className="grid gap-3 md:grid-cols-2">
        <Field {...field('name')} label="Name" placeholder="google" required autoCapitalize="none" />
        <Field {...field('label')} label="Button label (optional)" placeholder="Google" />
        <div className="md:col-span-2">
          <Field
            {...field('issuer')}
            label="Issuer URL"
            inputMode="url"
            autoCapitalize="none"
            placeholder="https://accounts.example.com"
            required
          />
        </div>
        <Field {...field('client_id')} label="Client ID" required autoComplete="off" />
        <Field
          {...field('client_secret')}
          label="Client secret"
          type="password"
          autoComplete="off"
          required
        />
        <Field {...field('scopes')} label="Scopes" />
        <Field {...field('groups_claim')} label="Groups claim" />
        <Field {...field('username_claim')} label="Username claim" />
        <TextAreaField
          {...field('group_map')}
          label="Group map (provider group=local group, one a line)"
          rows={3}
          placeholder="engineers=engineering"
          className="font-mono text-sm"
        />
      </div>
      <CheckboxField
        label="Also grant provider groups that have a local group's name"
        name="groups_passthrough"
        checked={values.groups_passthrough}
        onChange={(e) => setValues((v) => ({ ...v, groups_passthrough: e.target.checked }))}
      />
      <FormFooter error={general} done={result} busy={busy} label="Add provider" busyLabel="Adding…" />
    </FormCard>
  );
}

/** OIDC sign-in providers: the list (never a secret), a form for a new one, deletion after a confirmation. */
export function Providers() {
  const [confirming, setConfirming] = useState('');
  const { data, error, setError, load } = useLoad(() => api<ProviderList>('GET', '/providers'));
  const items = data?.providers ?? null;
  const { busy, done, setDone, run } = useAction(setError);

  const remove = (name: string) =>
    run(async () => {
      setError('');
      await api('DELETE', `/providers/${encodeURIComponent(name)}`);
      setConfirming('');
      setDone(`Deleted ${name}: the login portal no longer offers it.`);
      await load();
    });

  return (
    <section aria-labelledby="prov-title" className="flex flex-col gap-6">
      <h1 id="prov-title" className="text-xl font-semibold">
        Sign-in providers
      </h1>
      <AddProvider
        redirectUri={data?.redirect_uri}
        onCreated={() => {
          setDone('');
          void load();
        }}
      />
      <div className="flex flex-col gap-3">
        <div className="flex items-center gap-3">
          <h2 className="text-lg font-semibold">Providers</h2>
          <RefreshButton onClick={() => void load()} />
        </div>
        <Outcome error={error} done={done} />
        <LoadedList items={items} empty="No providers: users sign in with a password.">
          {(items) => (
            <Table
              testId="providers"
              columns={[
                'Name',
                'Label',
                'Issuer',
                'Client ID',
                'Scopes',
                'Claims (groups, username)',
                'Group map',
                'Actions',
              ]}
            >
              {items.map((p) => (
                <tr key={p.name} className="border-t border-slate-100 align-top" data-provider={p.name}>
                  <td className="px-3 py-1.5 font-medium">{p.name}</td>
                  <td className="px-3 py-1.5">{p.label}</td>
                  <td className="px-3 py-1.5 break-all">{p.issuer}</td>
                  <td className="px-3 py-1.5 font-mono text-xs break-all">{p.client_id}</td>
                  <td className="px-3 py-1.5">{p.scopes.join(' ')}</td>
                  <td className="px-3 py-1.5">
                    {p.groups_claim}, {p.username_claim}
                  </td>
                  <td className="px-3 py-1.5">
                    {Object.entries(p.group_map)
                      .map(([from, to]) => `${from} → ${to}`)
                      .join(', ') || '—'}
                    {p.groups_passthrough ? (
                      <span className="block text-xs text-slate-500">and same-named groups</span>
                    ) : null}
                  </td>
                  <td className="px-3 py-1.5 text-right">
                    <ConfirmButton
                      asking={confirming === p.name}
                      onAsk={() => setConfirming(p.name)}
                      button="Delete"
                      buttonLabel={`Delete provider ${p.name}`}
                      label={`Confirm deleting provider ${p.name}`}
                      action={busy ? 'Deleting…' : 'Delete provider'}
                      busy={busy}
                      onConfirm={() => void remove(p.name)}
                      onCancel={() => setConfirming('')}
                    >
                      Delete {p.name}? Its users stay, but can no longer sign in through it.
                    </ConfirmButton>
                  </td>
                </tr>
              ))}
            </Table>
          )}
        </LoadedList>
      </div>
    </section>
  );
}
