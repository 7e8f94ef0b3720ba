import type { NodeEnrolled } from '../../../../src/api/views';
import { api } from '../../api';
import { buttonClass, plainButton } from '../../components/buttons';
import { Field, SelectField } from '../../components/Field';
import { FormCard, FormFooter } from '../../components/Form';
import { useCopy } from '../../hooks/useCopy';
import { useCreateForm } from '../../hooks/useCreateForm';

/** A read-only value with a Copy button (falls back to selecting it when there is no clipboard). */
function CopyValue({ label, value, multiline }: { label: string; value: string; multiline?: boolean }) {
  const { field, copied, copy } = useCopy<HTMLInputElement & HTMLTextAreaElement>(value);
  const cls = 'min-w-0 flex-1 rounded border border-slate-300 bg-white px-3 py-2 font-mono text-sm';
  return (
    <div className="flex flex-col gap-1">
      <span className="font-medium">{label}</span>
      <div className="flex flex-wrap items-start gap-2">
        {multiline ? (
          <textarea
            ref={field}
            readOnly
            aria-label={label}
            value={value}
            rows={3}
            onFocus={(e) => e.target.select()}
            className={cls + ' resize-y break-all'}
          />
        ) : (
          <input
            ref={field}
            readOnly
            aria-label={label}
            value={value}
            onFocus={(e) => e.target.select()}
            className={cls}
          />
        )}
        <button
          type="button"
          onClick={copy}
          aria-label={`Copy ${label.toLowerCase()}`}
          className={buttonClass}
        >
          Copy
        </button>
      </div>
      {copied ? <span className="text-xs">{copied}</span> : null}
    </div>
  );
}

/** The token and the ready-to-run command of a node just added: shown once, never again. */
function Created({ created, onDone }: { created: NodeEnrolled; onDone: () => void }) {
  // The API cannot know the address the node reaches it by; the browser's is the best guess.
  const command = created.command.replace("<this API's URL>", window.location.origin);
  return (
    <div className="flex flex-col gap-3 rounded border border-green-200 bg-green-50 p-3 text-sm text-green-900">
      {/* Only the sentence is announced: a screen reader must not read the token aloud. */}
      <span role="status">
        Node <strong>{created.node.name}</strong> added. Its token is shown only now: run the command on the
        node (change the control URL if the node reaches this API by another address).
      </span>
      <CopyValue label="Node token" value={created.token} />
      <CopyValue label="Command" value={command} multiline />
      <div>
        <button type="button" onClick={onDone} className={plainButton}>
          Done
        </button>
      </div>
    </div>
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
