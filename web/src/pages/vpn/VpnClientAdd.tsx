import type { VpnClientAdded } from '../../../../src/api/views';
import { api } from '../../api';
import { Field, SelectField } from '../../components/Field';
import { FormCard, FormFooter } from '../../components/Form';
import { useCreateForm } from '../../hooks/useCreateForm';
import { ClientConfig } from './ClientConfig';
import { PolicyPicker, policyProblem, policyText, type PolicyChoice } from './PolicyPicker';

type FormField = 'name' | 'group' | 'expires' | 'policy' | 'dns';
const FIELDS: readonly string[] = ['name', 'group', 'expires', 'policy', 'dns'];

/** Beside the three kinds: no policy of its own. */
const FOLLOW_GROUP = [{ value: 'group', label: "Its group's policy (follows the group's changes)" }] as const;

interface Values extends PolicyChoice {
  name: string;
  group: string;
  expires: string;
  dns: string;
}

const INITIAL: Values = { name: '', group: '', expires: '', dns: '', kind: 'full', services: '', ports: '' };

/** The body of POST /vpn/clients: empty optional fields left out. */
function bodyOf(v: Values) {
  return {
    name: v.name.trim(),
    ...(v.group.trim() ? { group: v.group.trim() } : {}),
    ...(v.expires.trim() ? { expires: v.expires.trim() } : {}),
    ...(v.dns.trim() ? { dns: v.dns.trim() } : {}),
    // Following its group: no policy of its own (the server applies the group's, now and later).
    ...(v.kind === 'group' ? {} : { policy: policyText(v) }),
  };
}

/**
 * Adds a VPN client: its name, group, expiry and policy (full, some services, some ports); the API's
 * complaints at their fields; then its config, shown once.
 */
export function VpnClientAdd({
  services,
  groups,
  onAdded,
}: {
  services: string[];
  /** The device groups to pick from (none: the client is in no group). */
  groups: string[];
  onAdded: () => void;
}) {
  const { values, setValues, field, errors, general, result, setResult, busy, submit } = useCreateForm({
    initial: INITIAL,
    fieldOf: (f): FormField | undefined => (FIELDS.includes(f) ? (f as FormField) : undefined),
    check: (v): Partial<Record<FormField, string>> | undefined => {
      const problem = policyProblem(v);
      if (problem) return { policy: problem };
      if (v.kind === 'group' && !v.group.trim()) return { group: 'pick the group whose policy it follows' };
      return undefined;
    },
    send: (v) => api<VpnClientAdded>('POST', '/vpn/clients', bodyOf(v)),
    onSent: onAdded,
  });
  return (
    <FormCard titleId="vpn-add-title" title="Add a VPN client" onSubmit={submit}>
      <div className="grid gap-3 md:grid-cols-4">
        <Field {...field('name')} label="Client name" placeholder="laptop" required autoComplete="off" />
        <SelectField
          {...field('group')}
          label="Group (optional)"
          options={[{ value: '', label: 'none' }, ...groups]}
        />
        <Field
          {...field('expires')}
          label="Expires after (optional)"
          placeholder="30d, 12h or 90m"
          autoComplete="off"
        />
        <Field {...field('dns')} label="DNS server (optional)" placeholder="10.0.0.53" autoComplete="off" />
      </div>
      <PolicyPicker
        choice={values}
        onChange={(patch) => setValues((v) => ({ ...v, ...patch }))}
        services={services}
        error={errors.policy}
        extra={FOLLOW_GROUP}
      />
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
