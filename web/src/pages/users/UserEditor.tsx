import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { UserView } from '../../../../src/api/views';
import { api, splitIssues } from '../../api';
import { plainButton } from '../../components/buttons';
import { ConfirmStep } from '../../components/ConfirmStep';
import { CheckboxField, Field, SelectField } from '../../components/Field';
import { FormFooter } from '../../components/Form';
import { Notice } from '../../components/Notice';
import { GroupPicker } from './UserParts';
import { UserTotp } from './UserTotp';

type EditField = 'role' | 'groups' | 'password';

function editFieldOf(f: string): EditField | undefined {
  if (f === 'role' || f === 'password') return f;
  if (f.startsWith('groups')) return 'groups';
  return undefined;
}

/**
 * One user's settings as the form holds them, their save (only what changed here) and the user's
 * deletion; `general` and `busy` are shared by both.
 */
function useUserEdit(user: UserView, onChanged: () => void, onDeleted: (username: string) => void) {
  const [role, setRole] = useState(user.role);
  const [memberOf, setMemberOf] = useState(user.groups);
  const [disabled, setDisabled] = useState(user.disabled);
  const [password, setPassword] = useState('');
  // What the form started from: only what the admin changed here is sent, so a change made
  // elsewhere meanwhile (another admin, an edge file) is not quietly set back.
  const opened = useRef({ role: user.role, groups: user.groups, disabled: user.disabled });
  const [errors, setErrors] = useState<Partial<Record<EditField, string>>>({});
  const [general, setGeneral] = useState('');
  const [done, setDone] = useState('');
  const [busy, setBusy] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const path = `/users/${encodeURIComponent(user.username)}`;

  async function save(e: FormEvent) {
    e.preventDefault();
    setErrors({});
    setGeneral('');
    setDone('');
    const change: Record<string, unknown> = {};
    const was = opened.current;
    if (role !== was.role) change.role = role;
    if (disabled !== was.disabled) change.disabled = disabled;
    if ([...memberOf].sort().join() !== [...was.groups].sort().join()) change.groups = memberOf;
    if (password) change.password = password;
    if (Object.keys(change).length === 0) {
      setDone('Nothing changed.');
      return;
    }
    setBusy(true);
    try {
      await api<UserView>('PATCH', path, change);
      opened.current = { role, groups: memberOf, disabled };
      setPassword('');
      setDone(
        `Saved ${user.username}.` +
          (change.password || change.disabled === true ? ' Their sessions have ended.' : ''),
      );
      onChanged();
    } catch (err) {
      const { fields, general: rest } = splitIssues(err, editFieldOf);
      setErrors(fields);
      setGeneral(rest);
    } finally {
      setBusy(false);
    }
  }

  async function remove() {
    setBusy(true);
    setGeneral('');
    try {
      await api('DELETE', path);
      onDeleted(user.username);
    } catch (err) {
      setGeneral(splitIssues(err, () => undefined).general);
      setConfirmDelete(false);
    } finally {
      setBusy(false);
    }
  }

  return {
    values: { role, memberOf, disabled, password },
    setRole,
    setMemberOf,
    setDisabled,
    setPassword,
    errors,
    general,
    done,
    busy,
    confirmDelete,
    setConfirmDelete,
    save: (e: FormEvent) => void save(e),
    remove: () => void remove(),
  };
}

/** The user's role, new password, groups and disabled flag, saved together. */
function UserSettings({
  user,
  groups,
  edit,
}: {
  user: UserView;
  groups: string[];
  edit: ReturnType<typeof useUserEdit>;
}) {
  const { values, errors } = edit;
  return (
    <form onSubmit={edit.save} aria-label={`Settings of ${user.username}`} className="flex flex-col gap-3">
      <div className="grid gap-3 md:grid-cols-2">
        <SelectField
          label="Role"
          name="role"
          value={values.role}
          onChange={(e) => edit.setRole(e.target.value === 'admin' ? 'admin' : 'user')}
          options={[
            { value: 'user', label: 'user' },
            { value: 'admin', label: 'admin (signs in to this UI)' },
          ]}
          error={errors.role}
        />
        <Field
          label="New password"
          name="new-password"
          type="password"
          autoComplete="new-password"
          placeholder="unchanged"
          value={values.password}
          onChange={(e) => edit.setPassword(e.target.value)}
          error={errors.password}
        />
      </div>
      <GroupPicker
        groups={groups}
        value={values.memberOf}
        onChange={edit.setMemberOf}
        error={errors.groups}
      />
      <CheckboxField
        label="Disabled (cannot sign in; their sessions end)"
        name="disabled"
        checked={values.disabled}
        onChange={(e) => edit.setDisabled(e.target.checked)}
      />
      <FormFooter
        error={edit.general}
        done={edit.done}
        busy={edit.busy}
        label="Save changes"
        busyLabel="Saving…"
      />
    </form>
  );
}

/**
 * One user's settings: role, groups, disabled, a new password; the second factor; deletion after a
 * confirmation. `me` is the signed-in admin, warned before locking themselves out.
 */
export function UserEditor({
  user,
  groups,
  me,
  onChanged,
  onDeleted,
  onClose,
}: {
  user: UserView;
  groups: string[];
  me: string;
  onChanged: () => void;
  onDeleted: (username: string) => void;
  onClose: () => void;
}) {
  const edit = useUserEdit(user, onChanged, onDeleted);
  const heading = useRef<HTMLHeadingElement>(null);
  const self = user.username === me;

  // Opened from the list: the keyboard (and a phone's screen) goes to the editor.
  useEffect(() => {
    heading.current?.focus();
    heading.current?.scrollIntoView?.({ block: 'nearest' });
  }, []);

  return (
    <section
      aria-labelledby="user-edit-title"
      className="flex flex-col gap-4 rounded-lg border border-slate-200 bg-white p-4"
    >
      <div className="flex flex-wrap items-center gap-3">
        <h2 id="user-edit-title" ref={heading} tabIndex={-1} className="font-semibold focus:outline-none">
          Edit user {user.username}
        </h2>
        <button type="button" onClick={onClose} className={'ml-auto ' + plainButton}>
          Close
        </button>
      </div>
      {user.managed_by ? (
        <Notice kind="warn">
          Managed by the edge file {user.managed_by}: its next apply sets role, groups, names and disabled
          back to what the file says (a password set here stays).
        </Notice>
      ) : null}
      {self ? (
        <Notice kind="warn">
          This is you: disabling or demoting this account, or a new password, signs you out.
        </Notice>
      ) : null}
      <UserSettings user={user} groups={groups} edit={edit} />
      <hr className="border-slate-200" />
      <UserTotp user={user} onChanged={onChanged} />
      <hr className="border-slate-200" />
      {edit.confirmDelete ? (
        <ConfirmStep
          label="Confirm deleting the user"
          action={edit.busy ? 'Deleting…' : `Delete ${user.username}`}
          busy={edit.busy}
          onConfirm={edit.remove}
          onCancel={() => edit.setConfirmDelete(false)}
        >
          Delete {user.username}? Their sessions end at once{self ? ', yours included' : ''}; this cannot be
          undone.
        </ConfirmStep>
      ) : (
        <div>
          <button type="button" onClick={() => edit.setConfirmDelete(true)} className={plainButton}>
            Delete user…
          </button>
        </div>
      )}
    </section>
  );
}
