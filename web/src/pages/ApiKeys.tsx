import { useId, useState } from 'react';
import type {
  ApiKeyCreated,
  ApiKeyList,
  ApiKeyView,
  ServiceList,
  ServiceListItem,
  UserList,
} from '../../../src/api/views';
import { api } from '../api';
import { badge } from '../components/badges';
import { ConfirmButton } from '../components/ConfirmStep';
import { CheckboxField, Field, SelectField } from '../components/Field';
import { FormCard, FormFooter } from '../components/Form';
import { LoadedList } from '../components/LoadedList';
import { Outcome } from '../components/Notice';
import { CopyValue, OneTimePanel } from '../components/OneTime';
import { ListHeading } from '../components/PageHeader';
import { actionsColumn, Table } from '../components/Table';
import { local } from '../components/when';
import { useAction } from '../hooks/useAction';
import { useCreateForm } from '../hooks/useCreateForm';
import { useLoad } from '../hooks/useLoad';

/** The header a key rides in on a service: `Authorization: Bearer`, unless its access names another. */
const BEARER = 'Authorization: Bearer';

/**
 * How a service takes API keys: one entry per way its access (or one of its routes') says
 * `api_keys` (`true`: Authorization: Bearer; `{ header }`: that header). Empty: it takes none.
 */
function keyWays(s: ServiceListItem): string[] {
  const ways = [s.service.access?.api_keys, ...s.service.routes.map((r) => r.access?.api_keys)]
    .filter((a) => a !== undefined)
    .map((a) => (a === true ? BEARER : `${a.header}:`));
  return [...new Set(ways)];
}

/** "Authorization: Bearer <key>", or, where services read other headers, each way with its services. */
function sendHint(services: string[], ways: Record<string, string[]>): string {
  const byWay = new Map<string, string[]>();
  for (const s of services) for (const w of ways[s] ?? [BEARER]) byWay.set(w, [...(byWay.get(w) ?? []), s]);
  if (byWay.size <= 1) return `Send it as ${[...byWay.keys()][0] ?? BEARER} <key>.`;
  return `Send it as ${[...byWay].map(([w, s]) => `${w} <key> (${s.join(', ')})`).join(' or ')}.`;
}

type FormField = 'name' | 'services' | 'user' | 'ttl';

function fieldOf(f: string): FormField | undefined {
  if (f === 'name' || f === 'user' || f === 'ttl') return f;
  if (f === 'services' || f.startsWith('services.')) return 'services';
  return undefined;
}

const INITIAL = { name: '', services: [] as string[], user: '', ttl: '' };

/** The services a key opens, one checkbox each; or, when none takes keys, what one needs. */
function ServicePicker({
  services,
  value,
  onChange,
  error,
}: {
  services: string[] | null;
  value: string[];
  onChange: (services: string[]) => void;
  error?: string | undefined;
}) {
  const id = useId();
  const toggle = (s: string, on: boolean) =>
    onChange(on ? [...new Set([...value, s])] : value.filter((x) => x !== s));
  return (
    <fieldset
      className="flex min-w-0 flex-col gap-1"
      aria-describedby={error ? `${id}-error` : undefined}
      data-testid="api-key-services"
    >
      <legend className="mb-1 text-sm font-medium text-slate-700">Services it opens</legend>
      {!services ? (
        <p className="text-sm text-slate-500">Loading…</p>
      ) : services.length === 0 ? (
        <p className="text-sm text-slate-600">
          No service takes API keys yet. A service needs <code>api_keys: true</code> in its access (or in a
          route&apos;s): in its editor, tick &ldquo;API keys may pass&rdquo;.
        </p>
      ) : (
        <div className="flex flex-wrap gap-x-4 gap-y-1">
          {services.map((s) => (
            <CheckboxField
              key={s}
              label={s}
              checked={value.includes(s)}
              aria-invalid={error ? true : undefined}
              onChange={(e) => toggle(s, e.target.checked)}
            />
          ))}
        </div>
      )}
      {error ? (
        <p id={`${id}-error`} className="text-sm text-red-700" role="alert">
          {error}
        </p>
      ) : null}
    </fieldset>
  );
}

function CreateForm({
  services,
  ways,
  users,
  onCreated,
}: {
  services: string[] | null;
  ways: Record<string, string[]>;
  users: { value: string; label: string }[];
  onCreated: () => void;
}) {
  const { values, setValues, field, errors, general, result, setResult, busy, submit } = useCreateForm({
    initial: INITIAL,
    fieldOf,
    check: (v): Partial<Record<FormField, string>> | undefined =>
      v.services.length ? undefined : { services: 'tick at least one service' },
    send: (v) =>
      api<ApiKeyCreated>('POST', '/api-keys', {
        name: v.name.trim(),
        services: v.services,
        ...(v.user ? { user: v.user } : {}),
        ...(v.ttl.trim() ? { ttl: v.ttl.trim() } : {}),
      }),
    onSent: onCreated,
  });

  return (
    <FormCard titleId="api-key-create-title" title="New API key" onSubmit={submit}>
      <div className="grid gap-3 md:grid-cols-3">
        <Field
          {...field('name')}
          label="Name"
          placeholder="what uses it, e.g. ci-deploy"
          autoComplete="off"
          required
        />
        <SelectField
          {...field('user')}
          label="Acts as user (optional)"
          options={[{ value: '', label: 'none: a service key' }, ...users]}
        />
        <Field
          {...field('ttl')}
          label="Lifetime (optional)"
          placeholder="90d or 12h; empty: until revoked"
          autoComplete="off"
        />
      </div>
      <ServicePicker
        services={services}
        value={values.services}
        onChange={(s) => setValues((v) => ({ ...v, services: s }))}
        error={errors.services}
      />
      <p className="text-sm text-slate-500">
        A user&apos;s key passes as that user (their groups, their identity headers) and stops working when
        they are disabled or removed; a service key passes under its own name.
      </p>
      <FormFooter
        error={general}
        busy={busy}
        disabled={services?.length === 0}
        label="Create API key"
        busyLabel="Creating…"
      >
        {result ? (
          <OneTimePanel
            // Only this sentence is announced: a screen reader must not read the key aloud.
            status={`API key ${result.key.name} created. It is shown only now: copy it and keep it safe.`}
            onDone={() => setResult(null)}
          >
            <CopyValue label="API key" value={result.token} />
            <p>{sendHint(result.key.services, ways)}</p>
          </OneTimePanel>
        ) : null}
      </FormFooter>
    </FormCard>
  );
}

const STATE_TONE: Record<ApiKeyView['state'], string> = {
  active: 'bg-green-100 text-green-800',
  expired: 'bg-slate-200 text-slate-700',
  revoked: 'bg-red-100 text-red-800',
};

/** API keys: make one for scripts and apps (shown once), see which are in force, revoke them. */
export function ApiKeys() {
  const [confirming, setConfirming] = useState('');

  const { data, error, setError, load } = useLoad(async () => {
    const [k, s, u] = await Promise.all([
      api<ApiKeyList>('GET', '/api-keys'),
      api<ServiceList>('GET', '/services'),
      api<UserList>('GET', '/users'),
    ]);
    const ways: Record<string, string[]> = {};
    for (const x of s.services) {
      const w = keyWays(x);
      if (w.length) ways[x.service.name] = w;
    }
    // A disabled user's keys are refused until the user is enabled again: say so where one is picked.
    const users = u.users.map((x) => ({
      value: x.username,
      label: x.disabled ? `${x.username} (disabled)` : x.username,
    }));
    return { keys: k.keys, ways, users };
  });
  const { busy, done, setDone, run } = useAction(setError);
  const keys = data?.keys ?? null;

  const revoke = (k: ApiKeyView) =>
    run(async () => {
      setError('');
      await api('DELETE', `/api-keys/${encodeURIComponent(k.id)}`);
      setDone(`Revoked API key ${k.name}.`);
      setConfirming('');
      await load();
    });

  return (
    <section aria-labelledby="api-keys-title" className="flex flex-col gap-6">
      <h1 id="api-keys-title" className="text-xl font-semibold">
        API keys
      </h1>
      <CreateForm
        services={data ? Object.keys(data.ways) : null}
        ways={data?.ways ?? {}}
        users={data?.users ?? []}
        onCreated={() => {
          setDone('');
          void load();
        }}
      />
      <ListHeading title="Existing keys" onRefresh={() => void load()} />
      <Outcome error={error} done={done} />
      <LoadedList items={keys} empty="No API keys yet.">
        {(keys) => (
          <Table
            testId="api-keys"
            columns={['Name', 'Services', 'User', 'State', 'Expires', 'Created', actionsColumn]}
          >
            {keys.map((k) => (
              <tr key={k.id} className="border-t border-slate-100 align-top" data-api-key-id={k.id}>
                <td className="px-3 py-1.5 font-medium">{k.name}</td>
                <td className="px-3 py-1.5">{k.services.join(', ')}</td>
                <td className="px-3 py-1.5">
                  {k.user ?? <span className="text-slate-500">service key</span>}
                </td>
                <td className="px-3 py-1.5">
                  <span className={`${badge} ${STATE_TONE[k.state]}`}>{k.state}</span>
                </td>
                <td className="whitespace-nowrap px-3 py-1.5">
                  {k.expires_at ? local(k.expires_at) : <span className="text-slate-500">never</span>}
                </td>
                <td className="whitespace-nowrap px-3 py-1.5">{local(k.created_at)}</td>
                <td className="px-3 py-1.5 text-right">
                  {k.state !== 'active' ? null : (
                    <ConfirmButton
                      asking={confirming === k.id}
                      onAsk={() => setConfirming(k.id)}
                      button="Revoke"
                      buttonLabel={`Revoke API key ${k.name}`}
                      label={`Confirm revoking API key ${k.name}`}
                      action={busy ? 'Revoking…' : 'Revoke key'}
                      busy={busy}
                      onConfirm={() => void revoke(k)}
                      onCancel={() => setConfirming('')}
                    >
                      Revoke {k.name}? Requests with it are refused at once.
                    </ConfirmButton>
                  )}
                </td>
              </tr>
            ))}
          </Table>
        )}
      </LoadedList>
    </section>
  );
}
