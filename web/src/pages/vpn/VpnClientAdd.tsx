import type { VpnClientAdded } from '../../../../src/api/views';
import { api } from '../../api';
import { CheckboxField, Field, SelectField } from '../../components/Field';
import { FormCard, FormFooter } from '../../components/Form';
import { useCreateForm } from '../../hooks/useCreateForm';
import { ClientConfig } from './ClientConfig';
import { policyOf, type PolicyKind } from './format';

type FormField = 'name' | 'group' | 'expires' | 'policy' | 'dns';
const FIELDS: readonly string[] = ['name', 'group', 'expires', 'policy', 'dns'];

const POLICIES = [
  { value: 'full', label: 'Full: every service and site' },
  { value: 'services', label: 'Only some services' },
  { value: 'ports', label: 'Only some ports' },
  { value: 'group', label: "Its group's policy (follows the group's changes)" },
] as const;

interface Values {
  name: string;
  group: string;
  expires: string;
  dns: string;
  kind: string;
  /** The services picked, comma-separated. */
  services: string;
  ports: string;
}

const INITIAL: Values = { name: '', group: '', expires: '', dns: '', kind: 'full', services: '', ports: '' };
const picked = (v: Values) => v.services.split(',').filter(Boolean);

/** The body of POST /vpn/clients: empty optional fields left out. */
function bodyOf(v: Values) {
  return {
    name: v.name.trim(),
    ...(v.group.trim() ? { group: v.group.trim() } : {}),
    ...(v.expires.trim() ? { expires: v.expires.trim() } : {}),
    ...(v.dns.trim() ? { dns: v.dns.trim() } : {}),
    // Following its group: no policy of its own (the server applies the group's, now and later).
    ...(v.kind === 'group' ? {} : { policy: policyOf(v.kind as PolicyKind, picked(v), v.ports) }),
  };
}

/**
 * Adds a VPN client: its name, group, expiry and policy (full, some services, some ports); the API's
 * complaints at their fields; then its config, shown once.
 */
export function VpnClientAdd({ services, onAdded }: { services: string[]; onAdded: () => void }) {
  const { values, setValues, set, field, errors, general, result, setResult, busy, submit } = useCreateForm({
    initial: INITIAL,
    fieldOf: (f): FormField | undefined => (FIELDS.includes(f) ? (f as FormField) : undefined),
    check: (v): Partial<Record<FormField, string>> | undefined => {
      if (v.kind === 'services' && picked(v).length === 0) return { policy: 'pick at least one service' };
      if (v.kind === 'group' && !v.group.trim()) return { group: 'name the group whose policy it follows' };
      return undefined;
    },
    send: (v) => api<VpnClientAdded>('POST', '/vpn/clients', bodyOf(v)),
    onSent: onAdded,
  });
  const chosen = new Set(picked(values));
  const toggle = (name: string, on: boolean) =>
    setValues((v) => {
      const next = new Set(picked(v));
      if (on) next.add(name);
      else next.delete(name);
      return { ...v, services: [...next].join(',') };
    });
  // The policy's complaint goes where its value was typed or picked.
  const policyError = errors.policy;

  return (
    <FormCard titleId="vpn-add-title" title="Add a VPN client" onSubmit={submit}>
      <div className="grid gap-3 md:grid-cols-4">
        <Field {...field('name')} label="Client name" placeholder="laptop" required autoComplete="off" />
        <Field {...field('group')} label="Group (optional)" placeholder="staff" autoComplete="off" />
        <Field
          {...field('expires')}
          label="Expires after (optional)"
          placeholder="30d, 12h or 90m"
          autoComplete="off"
        />
        <Field {...field('dns')} label="DNS server (optional)" placeholder="10.0.0.53" autoComplete="off" />
      </div>
      <div className="grid gap-3 md:grid-cols-2">
        <SelectField
          name="policy"
          label="What it may reach"
          value={values.kind}
          onChange={set('kind')}
          options={POLICIES}
          error={values.kind === 'ports' ? undefined : policyError}
        />
        {values.kind === 'ports' ? (
          <Field
            {...field('ports')}
            label="Ports (TCP and UDP)"
            placeholder="22, 80, 8000-8100"
            autoComplete="off"
            error={policyError}
          />
        ) : null}
        {values.kind === 'services' ? (
          <fieldset className="flex flex-col gap-1" data-testid="policy-services">
            <legend className="text-sm font-medium text-slate-700">Services it may reach</legend>
            {services.length ? (
              <div className="flex flex-wrap gap-x-4 gap-y-1 pt-1">
                {services.map((s) => (
                  <CheckboxField
                    key={s}
                    label={s}
                    checked={chosen.has(s)}
                    onChange={(e) => toggle(s, e.target.checked)}
                  />
                ))}
              </div>
            ) : (
              <p className="text-sm text-slate-500">No services yet.</p>
            )}
          </fieldset>
        ) : null}
      </div>
      <p className="text-xs text-slate-500">
        The WireGuard server enforces the policy itself (nftables rules per client address): a client cannot
        widen it by editing its config.
      </p>
      <FormFooter error={general} busy={busy} label="Add client" busyLabel="Adding…">
        {result ? <ClientConfig added={result} onDone={() => setResult(null)} /> : null}
      </FormFooter>
    </FormCard>
  );
}
