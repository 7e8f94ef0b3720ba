import { CheckboxField, Field, SelectField } from '../../components/Field';
import { policyOf, type PolicyKind } from './format';

/** What a policy picker holds: the kind picked, the services ticked (comma-separated), the ports typed. */
export interface PolicyChoice {
  kind: string;
  services: string;
  ports: string;
}

export const FULL: PolicyChoice = { kind: 'full', services: '', ports: '' };

/** The three kinds of policy (docs/vpn-clients.md); a form may offer more (`extra`). */
const KINDS = [
  { value: 'full', label: 'Full: every service and site' },
  { value: 'services', label: 'Only some services' },
  { value: 'ports', label: 'Only some ports' },
] as const;

export const pickedServices = (c: PolicyChoice) => c.services.split(',').filter(Boolean);

/** The API's policy string of a choice of the three kinds. */
export const policyText = (c: PolicyChoice) => policyOf(c.kind as PolicyKind, pickedServices(c), c.ports);

/** What the form refuses before sending: services picked with none ticked. */
export const policyProblem = (c: PolicyChoice): string | undefined =>
  c.kind === 'services' && pickedServices(c).length === 0 ? 'pick at least one service' : undefined;

/** A policy string as the picker's choice (to change a policy in force). */
export function choiceOf(policy: string): PolicyChoice {
  if (policy.startsWith('services:')) return { ...FULL, kind: 'services', services: policy.slice(9) };
  if (policy.startsWith('ports:'))
    return { ...FULL, kind: 'ports', ports: policy.slice(6).replace(/,/g, ', ') };
  return FULL;
}

/**
 * Picks a policy: full, some services (ticked from `services`), some ports; `error` (the API's
 * complaint about `policy`) is shown where the value was typed or picked.
 */
export function PolicyPicker({
  choice,
  onChange,
  services,
  error,
  label = 'What it may reach',
  name = 'policy',
  portsName = 'ports',
  testId = 'policy-services',
  extra = [],
}: {
  choice: PolicyChoice;
  onChange: (patch: Partial<PolicyChoice>) => void;
  services: string[];
  error?: string | undefined;
  label?: string;
  name?: string;
  portsName?: string;
  testId?: string;
  extra?: readonly { value: string; label: string }[];
}) {
  const chosen = new Set(pickedServices(choice));
  const toggle = (s: string, on: boolean) => {
    const next = new Set(chosen);
    if (on) next.add(s);
    else next.delete(s);
    onChange({ services: [...next].join(',') });
  };
  return (
    <div className="grid gap-3 md:grid-cols-2">
      <SelectField
        name={name}
        label={label}
        value={choice.kind}
        onChange={(e) => onChange({ kind: e.target.value })}
        options={[...KINDS, ...extra]}
        error={choice.kind === 'ports' ? undefined : error}
      />
      {choice.kind === 'ports' ? (
        <Field
          name={portsName}
          value={choice.ports}
          onChange={(e) => onChange({ ports: e.target.value })}
          label="Ports (TCP and UDP)"
          placeholder="22, 80, 8000-8100"
          autoComplete="off"
          error={error}
        />
      ) : null}
      {choice.kind === 'services' ? (
        <fieldset className="flex min-w-0 flex-col gap-1" data-testid={testId}>
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
  );
}
