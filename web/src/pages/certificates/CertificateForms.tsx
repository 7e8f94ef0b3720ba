import { useEffect, useState, type FormEvent } from 'react';
import type { CertView, OrderView } from '../../../../src/api/views';
import { api, ApiError, issueField, messageOf } from '../../api';
import { Field, TextAreaField } from '../../components/Field';
import { FormCard, FormFooter } from '../../components/Form';
import { Notice } from '../../components/Notice';
import { local } from '../../components/when';
import { useCreateForm } from '../../hooks/useCreateForm';
import { orderKey, OrderProgress } from './CertificateOrders';

const DAY_MS = 86_400_000;

/** "a.example.com, b.example.com www.example.com" → the names, lower case, each once. */
function splitNames(text: string): string[] {
  return [
    ...new Set(
      text
        .split(/[\s,]+/)
        .map((n) => n.trim().toLowerCase())
        .filter(Boolean),
    ),
  ];
}

function validity(c: CertView): string {
  const days = Math.floor((Date.parse(c.notAfter) - Date.now()) / DAY_MS);
  return `valid until ${local(c.notAfter)} (${days} days)`;
}

/** A request under way (or just done): the order's stages, each step seen, and what was issued. */
function RequestProgress({
  pending,
  busy,
  shown,
  issued,
}: {
  pending: { names: string[]; steps: string[] };
  busy: boolean;
  shown: Pick<OrderView, 'state' | 'step'>;
  issued: string;
}) {
  return (
    <div
      role="status"
      data-testid="request-progress"
      className={
        'flex flex-col gap-2 rounded border p-3 text-sm ' +
        (busy ? 'border-sky-200 bg-sky-50 text-sky-900' : 'border-green-200 bg-green-50 text-green-900')
      }
    >
      <span className="break-all">
        {busy ? 'Requesting a certificate for ' : 'Certificate for '}
        {pending.names.join(', ')}
        {busy ? '…' : ''}
      </span>
      <OrderProgress order={shown} />
      {busy && shown.state === 'issued' ? <span>Issued; the proxy is loading it…</span> : null}
      {pending.steps.length ? (
        <ol className="list-inside list-decimal text-xs" aria-label="Steps seen" data-testid="steps-seen">
          {pending.steps.map((s, i) => (
            <li key={`${i}-${s}`} className="break-all">
              {s}
            </li>
          ))}
        </ol>
      ) : null}
      {issued ? <span>{issued}</span> : null}
    </div>
  );
}

/**
 * Orders a certificate now. The call returns once the CA issued it; meanwhile the page reads the
 * orders fast (`onBusy`) and this form shows the order's progress and each step it saw.
 */
export function RequestForm({
  acme,
  orders,
  onBusy,
  onDone,
}: {
  acme: boolean;
  orders: OrderView[];
  onBusy: (busy: boolean) => void;
  onDone: () => void;
}) {
  const [text, setText] = useState('');
  const [error, setError] = useState('');
  const [general, setGeneral] = useState('');
  const [pending, setPending] = useState<{ names: string[]; steps: string[] } | null>(null);
  const [busy, setBusy] = useState(false);
  const [issued, setIssued] = useState('');

  const order = pending && orders.find((o) => orderKey(o.names) === orderKey(pending.names));
  const step = busy && order?.state === 'issuing' ? order.step : undefined;
  // An `issued` order counts once this request saw it under way (an older order of the same names
  // may be listed as issued before this one starts); the call itself returns after the proxy reloads.
  const shown: Pick<OrderView, 'state' | 'step'> = !busy
    ? { state: 'issued' }
    : order?.state === 'issuing' || (order?.state === 'issued' && pending?.steps.length)
      ? order
      : { state: 'issuing' };
  // Each step seen once, in the order seen: a fast CA may run through some between two reads.
  useEffect(() => {
    if (!step) return;
    setPending((p) => (p && p.steps[p.steps.length - 1] !== step ? { ...p, steps: [...p.steps, step] } : p));
  }, [step]);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError('');
    setGeneral('');
    setIssued('');
    const names = splitNames(text);
    if (names.length === 0) {
      setError('enter at least one host name');
      return;
    }
    setPending({ names, steps: [] });
    setBusy(true);
    onBusy(true);
    try {
      const cert = await api<CertView>('POST', '/certificates/issue', { names });
      setPending((p) => (p ? { ...p, steps: [...p.steps.filter((s) => s !== 'issued'), 'issued'] } : p));
      setIssued(`Issued a certificate for ${cert.names.join(', ')}, ${validity(cert)}.`);
      setText('');
    } catch (err) {
      setPending(null);
      if (err instanceof ApiError && err.body.issues?.length) {
        const mine: string[] = [];
        const rest: string[] = [];
        for (const i of err.body.issues) {
          const m = /^names(?:\.(\d+))?$/.exec(issueField(i.field));
          if (!m) rest.push(`${i.field}: ${i.message}`);
          else mine.push(m[1] !== undefined ? `${names[Number(m[1])] ?? ''}: ${i.message}` : i.message);
        }
        setError(mine.join('; '));
        setGeneral(rest.join('; '));
      } else setGeneral(messageOf(err));
    } finally {
      setBusy(false);
      onBusy(false);
      onDone();
    }
  }

  return (
    <FormCard titleId="cert-request-title" title="Request certificate" onSubmit={(e) => void submit(e)}>
      {acme ? null : (
        <Notice kind="warn">
          No ACME directory is configured (setting acme_directory): certificates can only be uploaded.
        </Notice>
      )}
      <Field
        label="Host names"
        name="names"
        placeholder="shop.example.com, www.shop.example.com"
        autoComplete="off"
        required
        disabled={!acme}
        value={text}
        onChange={(e) => setText(e.target.value)}
        error={error}
      />
      <p className="-mt-2 text-xs text-slate-500">
        Separated by commas or spaces; one certificate names them all. The CA must reach this edge over HTTP
        (or a DNS provider must hold the zone).
      </p>
      <FormFooter
        error={general}
        busy={busy}
        disabled={!acme}
        label="Request certificate"
        busyLabel="Requesting…"
      >
        {pending ? <RequestProgress pending={pending} busy={busy} shown={shown} issued={issued} /> : null}
      </FormFooter>
    </FormCard>
  );
}

/** Bring your own: a PEM certificate (with its chain) and its unencrypted key. */
export function UploadForm({ onDone }: { onDone: () => void }) {
  const { general, field, result, busy, submit } = useCreateForm({
    initial: { cert: '', key: '' },
    fieldOf: (f): 'cert' | 'key' | undefined => (f === 'cert' || f === 'key' ? f : undefined),
    send: async (v) => {
      const c = await api<CertView>('POST', '/certificates?wait=true', v);
      return `Uploaded a certificate for ${c.names.join(', ')}, ${validity(c)}.`;
    },
    onSent: onDone,
  });

  return (
    <details className="rounded-lg border border-slate-200 bg-white p-4">
      <summary className="cursor-pointer font-semibold focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500">
        Upload a certificate
      </summary>
      <form onSubmit={submit} aria-label="Upload a certificate" className="mt-3 flex flex-col gap-3">
        <div className="grid gap-3 md:grid-cols-2">
          <TextAreaField
            {...field('cert')}
            rows={6}
            spellCheck={false}
            className="font-mono text-xs"
            label="Certificate (PEM, chain after it)"
            placeholder="-----BEGIN CERTIFICATE-----"
            required
          />
          <TextAreaField
            {...field('key')}
            rows={6}
            spellCheck={false}
            className="font-mono text-xs"
            label="Private key (PEM)"
            placeholder="-----BEGIN PRIVATE KEY-----"
            required
          />
        </div>
        <FormFooter
          error={general}
          done={result}
          busy={busy}
          label="Upload certificate"
          busyLabel="Uploading…"
        />
      </form>
    </details>
  );
}
