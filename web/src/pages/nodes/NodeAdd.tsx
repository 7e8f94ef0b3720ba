import { useRef, useState, type FormEvent } from 'react';
import { api, splitIssues } from '../../api';
import { Field, SelectField } from '../../components/Field';
import { Notice } from '../../components/Notice';
import { buttonClass, plainButton } from '../../components/buttons';

/** POST /api/v1/nodes answers with the token, shown only this once, and the command to run. */
interface NodeCreated {
  node: { name: string; role: string };
  token: string;
  command: string;
}

/** A read-only value with a Copy button (falls back to selecting it when there is no clipboard). */
function CopyValue({ label, value, multiline }: { label: string; value: string; multiline?: boolean }) {
  const ref = useRef<HTMLInputElement & HTMLTextAreaElement>(null);
  const [copied, setCopied] = useState('');
  async function copy() {
    try {
      await navigator.clipboard.writeText(value);
      setCopied('Copied.');
    } catch {
      // No clipboard (plain HTTP, or refused): select the text so the keyboard can copy it.
      ref.current?.focus();
      ref.current?.select();
      setCopied('Selected: press Ctrl+C (⌘C) to copy.');
    }
  }
  const cls = 'min-w-0 flex-1 rounded border border-slate-300 bg-white px-3 py-2 font-mono text-sm';
  return (
    <div className="flex flex-col gap-1">
      <span className="font-medium">{label}</span>
      <div className="flex flex-wrap items-start gap-2">
        {multiline ? (
          <textarea
            ref={ref}
            readOnly
            aria-label={label}
            value={value}
            rows={3}
            onFocus={(e) => e.target.select()}
            className={cls + ' resize-y break-all'}
          />
        ) : (
          <input
            ref={ref}
            readOnly
            aria-label={label}
            value={value}
            onFocus={(e) => e.target.select()}
            className={cls}
          />
        )}
        <button
          type="button"
          onClick={() => void copy()}
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
function Created({ created, onDone }: { created: NodeCreated; onDone: () => void }) {
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
  const [name, setName] = useState('');
  const [role, setRole] = useState('public');
  const [errors, setErrors] = useState<Partial<Record<FormField, string>>>({});
  const [general, setGeneral] = useState('');
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<NodeCreated | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setErrors({});
    setGeneral('');
    setCreated(null);
    setBusy(true);
    try {
      const r = await api<NodeCreated>('POST', '/nodes', { name: name.trim(), role });
      setCreated(r);
      setName('');
      onAdded();
    } catch (err) {
      const { fields, general: rest } = splitIssues(err, (f): FormField | undefined =>
        f === 'name' || f === 'role' ? f : undefined,
      );
      setErrors(fields);
      setGeneral(rest);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form
      onSubmit={(e) => void submit(e)}
      aria-labelledby="node-add-title"
      className="flex flex-col gap-3 rounded-lg border border-slate-200 bg-white p-4"
    >
      <h2 id="node-add-title" className="font-semibold">
        Add a node
      </h2>
      <div className="grid gap-3 md:grid-cols-3">
        <Field
          label="Node name"
          name="name"
          placeholder="vps"
          required
          autoComplete="off"
          value={name}
          onChange={(e) => setName(e.target.value)}
          error={errors.name}
        />
        <SelectField
          label="Role"
          name="role"
          value={role}
          onChange={(e) => setRole(e.target.value)}
          error={errors.role}
          options={[
            { value: 'public', label: 'public: services exposed publicly' },
            { value: 'lan', label: 'lan: services exposed to the LAN' },
          ]}
        />
      </div>
      {general ? <Notice kind="error">{general}</Notice> : null}
      {created ? <Created created={created} onDone={() => setCreated(null)} /> : null}
      <div>
        <button type="submit" disabled={busy} className={buttonClass}>
          {busy ? 'Adding…' : 'Add node'}
        </button>
      </div>
    </form>
  );
}
