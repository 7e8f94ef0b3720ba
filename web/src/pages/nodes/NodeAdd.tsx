import type { NodeEnrolled } from '../../../../src/api/views';
import { api } from '../../api';
import { Field, SelectField } from '../../components/Field';
import { FormCard, FormFooter } from '../../components/Form';
import { CopyValue, OneTimePanel, withControlUrl } from '../../components/OneTime';
import { useCreateForm } from '../../hooks/useCreateForm';

/** The token and the ready-to-run command of a node just added: shown once, never again. */
function Created({ created, onDone }: { created: NodeEnrolled; onDone: () => void }) {
  return (
    <OneTimePanel
      onDone={onDone}
      status={
        <>
          Node <strong>{created.node.name}</strong> added. Its token is shown only now: run the command on the
          node (change the control URL if the node reaches this API by another address).
        </>
      }
    >
      <CopyValue label="Node token" value={created.token} />
      <CopyValue label="Command" value={withControlUrl(created.command)} multiline />
    </OneTimePanel>
  );
}

type FormField = 'name' | 'role';

/** Enrols a node: name and role, then its one-time token and command. */
export function NodeAdd({ onAdded }: { onAdded: () => void }) {
  const {
    general,
    field,
    result: created,
    setResult,
    busy,
    submit,
  } = useCreateForm({
    initial: { name: '', role: 'public' },
    fieldOf: (f): FormField | undefined => (f === 'name' || f === 'role' ? f : undefined),
    send: (v) => api<NodeEnrolled>('POST', '/nodes', { name: v.name.trim(), role: v.role }),
    after: (v) => ({ ...v, name: '' }),
    onSent: onAdded,
  });

  return (
    <FormCard titleId="node-add-title" title="Add a node" onSubmit={submit}>
      <div className="grid gap-3 md:grid-cols-3">
        <Field {...field('name')} label="Node name" placeholder="vps" required autoComplete="off" />
        <SelectField
          {...field('role')}
          label="Role"
          options={[
            { value: 'public', label: 'public: services exposed publicly' },
            { value: 'lan', label: 'lan: services exposed to the LAN' },
          ]}
        />
      </div>
      <FormFooter error={general} busy={busy} label="Add node" busyLabel="Adding…">
        {created ? <Created created={created} onDone={() => setResult(null)} /> : null}
      </FormFooter>
    </FormCard>
  );
}
