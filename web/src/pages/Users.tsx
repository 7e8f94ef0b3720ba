import { useState } from 'react';
import type { GroupList, UserList, UserView } from '../../../src/api/views';
import { api } from '../api';
import { plainButton, RefreshButton } from '../components/buttons';
import { Field, SelectField } from '../components/Field';
import { FormCard, FormFooter } from '../components/Form';
import { LoadedList } from '../components/LoadedList';
import { Outcome } from '../components/Notice';
import { Table } from '../components/Table';
import { useCreateForm } from '../hooks/useCreateForm';
import { useLoad } from '../hooks/useLoad';
import { Groups } from './users/Groups';
import { Sessions } from './users/Sessions';
import { UserEditor } from './users/UserEditor';
import { GroupPicker } from './users/UserParts';

type CreateField = 'username' | 'password' | 'role' | 'groups';

function createFieldOf(f: string): CreateField | undefined {
  if (f === 'username' || f === 'password' || f === 'role') return f;
  if (f.startsWith('groups')) return 'groups';
  return undefined;
}

const EMPTY = { username: '', password: '', role: 'user' as 'admin' | 'user', groups: [] as string[] };

function CreateUser({ groups, onCreated }: { groups: string[]; onCreated: () => void }) {
  const { values, field, setValues, errors, general, result, busy, submit } = useCreateForm({
    initial: EMPTY,
    fieldOf: createFieldOf,
    send: async (v) => {
      const username = v.username.trim();
      await api<UserView>('POST', '/users', {
        username,
        role: v.role,
        groups: v.groups,
        ...(v.password ? { password: v.password } : {}),
      });
      return `Created ${username}.`;
    },
    onSent: onCreated,
  });

  return (
    <FormCard titleId="user-create-title" title="New user" onSubmit={submit}>
      <div className="grid gap-3 md:grid-cols-3">
        <Field
          {...field('username')}
          label="Username"
          autoComplete="off"
          autoCapitalize="none"
          spellCheck={false}
          required
        />
        <Field {...field('password')} label="Password" type="password" autoComplete="new-password" />
        <SelectField
          label="Role"
          name="role"
          value={values.role}
          onChange={(e) => setValues((v) => ({ ...v, role: e.target.value === 'admin' ? 'admin' : 'user' }))}
          options={[
            { value: 'user', label: 'user' },
            { value: 'admin', label: 'admin (signs in to this UI)' },
          ]}
          error={errors.role}
        />
      </div>
      <GroupPicker
        groups={groups}
        value={values.groups}
        onChange={(g) => setValues((v) => ({ ...v, groups: g }))}
        error={errors.groups}
      />
      <p className="text-sm text-slate-500">
        Without a password, the user signs in only through a sign-in provider.
      </p>
      <FormFooter error={general} done={result} busy={busy} label="Create user" busyLabel="Creating…" />
    </FormCard>
  );
}

function Flag({ on, yes, no }: { on: boolean; yes: string; no: string }) {
  return (
    <span
      className={
        'inline-block rounded px-1.5 py-0.5 text-xs font-medium ' +
        (on ? 'bg-green-100 text-green-800' : 'bg-slate-100 text-slate-600')
      }
    >
      {on ? yes : no}
    </span>
  );
}

/** Users and groups: who may sign in, with which role, groups and second factor; live sessions. */
export function Users({ me }: { me: string }) {
  const [editing, setEditing] = useState('');
  const [done, setDone] = useState('');
  /** Counts the reads: the sessions list reads again after each (a user's change can end sessions). */
  const [tick, setTick] = useState(0);

  const { data, error, load } = useLoad(async () => {
    try {
      const [u, g] = await Promise.all([api<UserList>('GET', '/users'), api<GroupList>('GET', '/groups')]);
      return { users: u.users, groups: g.groups };
    } finally {
      setTick((n) => n + 1);
    }
  });
  const users = data?.users ?? null;
  const groups = data?.groups ?? null;

  const groupNames = (groups ?? []).map((g) => g.name);
  const current = users?.find((u) => u.username === editing);

  return (
    <section aria-labelledby="users-title" className="flex flex-col gap-6">
      <h1 id="users-title" className="text-xl font-semibold">
        Users
      </h1>
      <CreateUser
        groups={groupNames}
        onCreated={() => {
          setDone('');
          void load();
        }}
      />
      <div className="flex items-center gap-3">
        <h2 className="text-lg font-semibold">All users</h2>
        <RefreshButton onClick={() => void load()} />
      </div>
      <Outcome error={error} done={done} />
      <LoadedList items={users} empty="No users yet.">
        {(users) => (
          <Table
            testId="users"
            columns={['Username', 'Role', 'Groups', 'TOTP', 'State', 'Managed by', 'Actions']}
          >
            {users.map((u) => (
              <tr key={u.username} className="border-t border-slate-100 align-top" data-user={u.username}>
                <td className="px-3 py-1.5 font-medium">
                  {u.username}
                  {u.username === me ? <span className="font-normal text-slate-500"> (you)</span> : null}
                </td>
                <td className="px-3 py-1.5">{u.role}</td>
                <td className="px-3 py-1.5">{u.groups.join(', ') || '—'}</td>
                <td className="px-3 py-1.5">
                  <Flag on={u.totp} yes="on" no="off" />
                </td>
                <td className="px-3 py-1.5">
                  {u.disabled ? (
                    <span className="inline-block rounded bg-red-100 px-1.5 py-0.5 text-xs font-medium text-red-800">
                      disabled
                    </span>
                  ) : (
                    <Flag on yes="enabled" no="" />
                  )}
                </td>
                <td className="px-3 py-1.5 text-slate-600">{u.managed_by ? `file: ${u.managed_by}` : '—'}</td>
                <td className="px-3 py-1.5 text-right">
                  <button
                    type="button"
                    onClick={() => {
                      setDone('');
                      setEditing(u.username);
                    }}
                    aria-label={`Edit ${u.username}`}
                    aria-expanded={editing === u.username}
                    className={plainButton}
                  >
                    Edit
                  </button>
                </td>
              </tr>
            ))}
          </Table>
        )}
      </LoadedList>
      {current ? (
        <UserEditor
          key={current.username}
          user={current}
          groups={groupNames}
          me={me}
          onChanged={() => void load()}
          onDeleted={(name) => {
            setEditing('');
            setDone(`Deleted ${name}.`);
            void load();
          }}
          onClose={() => {
            setEditing('');
            // Back to the button that opened the editor.
            document
              .querySelector<HTMLButtonElement>(`tr[data-user="${CSS.escape(current.username)}"] button`)
              ?.focus();
          }}
        />
      ) : null}
      <Groups groups={groups} onChanged={() => void load()} />
      <Sessions reload={tick} />
    </section>
  );
}
