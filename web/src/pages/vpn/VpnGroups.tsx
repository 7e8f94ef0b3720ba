import { useState } from 'react';
import type { VpnGroupView } from '../../../../src/api/views';
import { api, ApiError, messageOf } from '../../api';
import { buttonClass, plainButton } from '../../components/buttons';
import { ConfirmStep } from '../../components/ConfirmStep';
import { Field } from '../../components/Field';
import { FormCard, FormFooter } from '../../components/Form';
import { LoadedList } from '../../components/LoadedList';
import { ErrorLine, Outcome } from '../../components/Notice';
import { ListHeading } from '../../components/PageHeader';
import { actionsColumn, Table } from '../../components/Table';
import { useAction } from '../../hooks/useAction';
import { useCreateForm } from '../../hooks/useCreateForm';
import { choiceOf, FULL, PolicyPicker, policyProblem, policyText, type PolicyChoice } from './PolicyPicker';

type GroupField = 'name' | 'policy';
const fieldOf = (f: string): GroupField | undefined => (f === 'name' || f === 'policy' ? f : undefined);

/** The API's complaint without its `field: ` prefix (a 409 on remove: the clients still in the group). */
const wording = (e: unknown) => (e instanceof ApiError && e.body.issues?.[0]?.message) || messageOf(e);

function GroupAdd({ services, onAdded }: { services: string[]; onAdded: () => void }) {
  const { values, setValues, field, errors, general, result, busy, submit } = useCreateForm({
    initial: { name: '', ...FULL },
    fieldOf,
    check: (v): Partial<Record<GroupField, string>> | undefined => {
      const problem = policyProblem(v);
      return problem ? { policy: problem } : undefined;
    },
    send: async (v) => {
      const g = await api<VpnGroupView>('POST', '/vpn/groups', {
        name: v.name.trim(),
        policy: policyText(v),
      });
      return `Added device group ${g.name} (policy ${g.policy}).`;
    },
    onSent: onAdded,
  });
  return (
    <FormCard titleId="vpn-group-add-title" title="Add a device group" heading="h3" onSubmit={submit}>
      <div className="grid gap-3 md:grid-cols-2">
        <Field {...field('name')} label="Device group name" placeholder="staff" required autoComplete="off" />
      </div>
      <PolicyPicker
        choice={values}
        onChange={(patch) => setValues((v) => ({ ...v, ...patch }))}
        services={services}
        error={errors.policy}
        label="What its clients may reach"
        testId="group-policy-services"
      />
      <FormFooter error={general} done={result} busy={busy} label="Add group" busyLabel="Adding…" />
    </FormCard>
  );
}

/** The same picker, for a group's policy in force; Cancel backs out. */
function GroupPolicyChange({
  group,
  services,
  onChanged,
  onCancel,
}: {
  group: VpnGroupView;
  services: string[];
  onChanged: (done: string) => void;
  onCancel: () => void;
}) {
  const { values, setValues, errors, general, busy, submit } = useCreateForm({
    initial: choiceOf(group.policy),
    fieldOf,
    after: (v: PolicyChoice) => v,
    check: (v): Partial<Record<GroupField, string>> | undefined => {
      const problem = policyProblem(v);
      return problem ? { policy: problem } : undefined;
    },
    send: async (v) => {
      const g = await api<VpnGroupView>('PUT', `/vpn/groups/${encodeURIComponent(group.name)}`, {
        policy: policyText(v),
      });
      return `Device group ${g.name} now has policy ${g.policy}.`;
    },
    onSent: onChanged,
  });
  return (
    <FormCard
      titleId="vpn-group-change-title"
      title={`Change the policy of device group ${group.name}`}
      heading="h3"
      onSubmit={submit}
    >
      <PolicyPicker
        choice={values}
        onChange={(patch) => setValues((v) => ({ ...v, ...patch }))}
        services={services}
        error={errors.policy}
        label={`What the clients of ${group.name} may reach`}
        name="new-policy"
        portsName="new-ports"
        testId="group-change-services"
      />
      <p className="text-xs text-slate-500">
        Its clients without a policy of their own follow at once; those with their own keep it.
      </p>
      <ErrorLine error={general} />
      <div className="flex flex-wrap gap-2">
        <button type="submit" disabled={busy} className={buttonClass}>
          {busy ? 'Saving…' : 'Save policy'}
        </button>
        <button type="button" onClick={onCancel} className={plainButton}>
          Cancel
        </button>
      </div>
    </FormCard>
  );
}

/**
 * Device groups (docs/vpn-clients.md): each carries the policy its clients without their own follow.
 * List (name, policy, clients), add, change a policy (the same picker as a client's), remove after a
 * confirmation: a group with clients is refused (409), the clients named.
 */
export function VpnGroups({
  groups,
  services,
  onChange,
}: {
  groups: VpnGroupView[] | null;
  services: string[];
  onChange: () => Promise<void>;
}) {
  const [error, setError] = useState('');
  const [changing, setChanging] = useState('');
  const [removing, setRemoving] = useState('');
  const { busy, done, setDone, run } = useAction(setError, wording);
  const changed = groups?.find((g) => g.name === changing);

  const remove = (name: string) =>
    run(async () => {
      setError('');
      try {
        await api('DELETE', `/vpn/groups/${encodeURIComponent(name)}`);
      } finally {
        setRemoving('');
      }
      setDone(`Removed device group ${name}.`);
      await onChange();
    });
  const ask = (what: () => void) => {
    setError('');
    setDone('');
    what();
  };

  return (
    <section aria-label="Device groups" className="flex flex-col gap-3" data-testid="vpn-groups">
      <ListHeading title="Device groups" onRefresh={() => void onChange()} />
      <p className="text-sm text-slate-600">
        A device group carries a policy: a client added to it without a policy of its own follows the
        group&apos;s, and its changes.
      </p>
      <Outcome error={error} done={done} />
      {removing ? (
        <ConfirmStep
          label="Confirm group removal"
          action={busy ? 'Removing…' : `Remove ${removing}`}
          busy={busy}
          onConfirm={() => void remove(removing)}
          onCancel={() => setRemoving('')}
        >
          Remove device group <strong>{removing}</strong>? Refused while clients are in it.
        </ConfirmStep>
      ) : null}
      {changed ? (
        <GroupPolicyChange
          key={changed.name}
          group={changed}
          services={services}
          onChanged={(line) => {
            setChanging('');
            setDone(line);
            void onChange();
          }}
          onCancel={() => setChanging('')}
        />
      ) : null}
      <LoadedList items={groups} empty="No device groups yet.">
        {(list) => (
          <Table testId="vpn-group-list" columns={['Name', 'Policy', 'Clients', actionsColumn]}>
            {list.map((g) => (
              <tr key={g.name} className="border-t border-slate-100 align-top" data-group={g.name}>
                <td className="px-3 py-1.5 font-medium">{g.name}</td>
                <td className="break-all px-3 py-1.5 font-mono text-xs" data-testid="group-policy">
                  {g.policy}
                </td>
                <td className="px-3 py-1.5" data-testid="group-clients">
                  {g.clients}
                </td>
                <td className="px-3 py-1.5 text-right">
                  <div className="flex flex-wrap justify-end gap-2">
                    <button
                      type="button"
                      onClick={() => ask(() => setChanging(g.name))}
                      aria-label={`Change the policy of device group ${g.name}`}
                      className={plainButton}
                    >
                      Change policy
                    </button>
                    <button
                      type="button"
                      onClick={() => ask(() => setRemoving(g.name))}
                      aria-label={`Remove device group ${g.name}`}
                      className={plainButton}
                    >
                      Remove
                    </button>
                  </div>
                </td>
              </tr>
            ))}
          </Table>
        )}
      </LoadedList>
      <GroupAdd
        services={services}
        onAdded={() => {
          setDone('');
          void onChange();
        }}
      />
    </section>
  );
}
