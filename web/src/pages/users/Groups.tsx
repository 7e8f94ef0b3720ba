import { useState } from 'react';
import type { GroupView } from '../../../../src/api/views';
import { api, splitIssues } from '../../api';
import { ConfirmButton } from '../../components/ConfirmStep';
import { Field } from '../../components/Field';
import { FormCard, FormFooter } from '../../components/Form';
import { LoadedList } from '../../components/LoadedList';
import { Outcome } from '../../components/Notice';
import { Table } from '../../components/Table';
import { useAction } from '../../hooks/useAction';
import { useCreateForm } from '../../hooks/useCreateForm';

type GroupField = 'name' | 'description';

function CreateGroup({ onCreated }: { onCreated: () => void }) {
  const { general, field, result, busy, submit } = useCreateForm({
    initial: { name: '', description: '' },
    fieldOf: (f): GroupField | undefined => (f === 'name' || f === 'description' ? f : undefined),
    send: async (v) => {
      const name = v.name.trim();
      await api('POST', '/groups', { name, description: v.description.trim() });
      return `Created group ${name}.`;
    },
    onSent: onCreated,
  });

  return (
    <FormCard titleId="group-create-title" title="New group" heading="h3" onSubmit={submit}>
      <div className="grid gap-3 md:grid-cols-3">
        <Field
          {...field('name')}
          label="Group name"
          name="group-name"
          placeholder="family"
          required
          autoCapitalize="none"
        />
        <div className="md:col-span-2">
          <Field {...field('description')} label="Description" />
        </div>
      </div>
      <FormFooter error={general} done={result} busy={busy} label="Create group" busyLabel="Creating…" />
    </FormCard>
  );
}

/** Groups: the list with members, a form for a new one, deletion after a confirmation. */
export function Groups({ groups, onChanged }: { groups: GroupView[] | null; onChanged: () => void }) {
  const [confirming, setConfirming] = useState('');
  const [error, setError] = useState('');
  const { busy, done, setDone, run } = useAction(setError, (e) => splitIssues(e, () => undefined).general);

  const remove = (name: string) =>
    run(async () => {
      setError('');
      await api('DELETE', `/groups/${encodeURIComponent(name)}`);
      setDone(`Deleted group ${name}.`);
      setConfirming('');
      onChanged();
    });

  return (
    <section aria-labelledby="groups-title" className="flex flex-col gap-3">
      <h2 id="groups-title" className="text-lg font-semibold">
        Groups
      </h2>
      <CreateGroup onCreated={onChanged} />
      <Outcome error={error} done={done} />
      <LoadedList items={groups} empty="No groups yet.">
        {(groups) => (
          <Table testId="groups" columns={['Name', 'Description', 'Members', 'Managed by', 'Actions']}>
            {groups.map((g) => (
              <tr key={g.name} className="border-t border-slate-100 align-top">
                <td className="px-3 py-1.5 font-medium">{g.name}</td>
                <td className="px-3 py-1.5">{g.description}</td>
                <td className="px-3 py-1.5">{g.members.join(', ') || '—'}</td>
                <td className="px-3 py-1.5 text-slate-600">{g.managed_by ? `file: ${g.managed_by}` : '—'}</td>
                <td className="px-3 py-1.5 text-right">
                  <ConfirmButton
                    asking={confirming === g.name}
                    onAsk={() => setConfirming(g.name)}
                    button="Delete"
                    buttonLabel={`Delete group ${g.name}`}
                    label={`Confirm deleting group ${g.name}`}
                    action={busy ? 'Deleting…' : 'Delete group'}
                    busy={busy}
                    onConfirm={() => void remove(g.name)}
                    onCancel={() => setConfirming('')}
                  >
                    Delete {g.name}?{g.members.length ? ` Its ${g.members.length} member(s) leave it.` : ''}
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
