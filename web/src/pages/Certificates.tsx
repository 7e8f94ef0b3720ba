import { useCallback, useEffect, useRef, useState } from 'react';
import type { CertList, CertView } from '../../../src/api/views';
import { api, messageOf } from '../api';
import { buttonClass, plainButton, RefreshButton } from '../components/buttons';
import { CheckboxField } from '../components/Field';
import { LoadedList } from '../components/LoadedList';
import { Outcome } from '../components/Notice';
import { actionsColumn, Table } from '../components/Table';
import { local } from '../components/when';
import { useAction } from '../hooks/useAction';
import { useLoad } from '../hooks/useLoad';
import { usePoll } from '../hooks/usePoll';
import { useStream } from '../hooks/useStream';
import { RequestForm, UploadForm } from './certificates/CertificateForms';
import { OrdersPanel } from './certificates/CertificateOrders';

const DAY_MS = 86_400_000;
/** A certificate this close to its end is highlighted (the API raises `cert_expiring` then too). */
const SOON_DAYS = 14;

/** While this page waits for its own request, the orders are read this often; while any order is under way, every second. */
const OWN_REQUEST_MS = 250;
const ISSUING_MS = 1_000;
const IDLE_MS = 10_000;

const badge = 'inline-block whitespace-nowrap rounded-full px-2 py-0.5 text-xs font-medium';

function DaysLeft({ notAfter }: { notAfter: string }) {
  const ms = Date.parse(notAfter) - Date.now();
  if (ms <= 0) return <span className={`${badge} bg-red-100 text-red-800`}>expired</span>;
  const days = Math.floor(ms / DAY_MS);
  const text = days === 1 ? '1 day' : `${days} days`;
  return days < SOON_DAYS ? (
    <span className={`${badge} bg-amber-100 text-amber-900`} title="renew or replace it soon">
      {text} left
    </span>
  ) : (
    <span>{text}</span>
  );
}

function ConfirmDelete({
  cert,
  busy,
  onConfirm,
  onCancel,
}: {
  cert: CertView;
  busy: boolean;
  onConfirm: (revoke: boolean) => void;
  onCancel: () => void;
}) {
  const [revoke, setRevoke] = useState(false);
  return (
    <div
      role="group"
      aria-label="Confirm deletion"
      className="flex flex-col gap-2 rounded border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900"
    >
      <span className="break-all">
        Delete the certificate for <strong>{cert.names.join(', ')}</strong> (expires {local(cert.notAfter)})?
        Hosts only it covers lose HTTPS until another certificate covers them.
      </span>
      {cert.source === 'acme' ? (
        <CheckboxField
          label="Also revoke it at the CA"
          checked={revoke}
          onChange={(e) => setRevoke(e.target.checked)}
        />
      ) : null}
      <div className="flex flex-wrap gap-2">
        <button type="button" disabled={busy} onClick={() => onConfirm(revoke)} className={buttonClass}>
          {busy ? 'Deleting…' : 'Delete certificate'}
        </button>
        {/* The step replaced the button that had the focus: it goes to the safe way back. */}
        <button type="button" autoFocus onClick={onCancel} className={plainButton}>
          Cancel
        </button>
      </div>
    </div>
  );
}

function CertRowView({
  c,
  acme,
  renewing,
  onRenew,
  onDelete,
}: {
  c: CertView;
  acme: boolean;
  renewing: boolean;
  onRenew: () => void;
  onDelete: () => void;
}) {
  const label = c.names.join(', ');
  return (
    <tr className="border-t border-slate-100 align-top" data-cert={c.id}>
      <td className="px-3 py-1.5">
        <ul>
          {c.names.map((n) => (
            <li key={n} className="font-medium">
              {n}
            </li>
          ))}
        </ul>
        <span className="block font-mono text-xs text-slate-500" title={c.fingerprint}>
          {c.fingerprint.slice(0, 16)}…
        </span>
      </td>
      <td className="px-3 py-1.5">
        {c.source === 'acme' ? 'ACME' : c.source === 'upload' ? 'uploaded' : c.source}
      </td>
      <td className="whitespace-nowrap px-3 py-1.5">{local(c.notBefore)}</td>
      <td className="whitespace-nowrap px-3 py-1.5" data-testid="not-after">
        {local(c.notAfter)}
      </td>
      <td className="px-3 py-1.5" data-testid="days-left">
        <DaysLeft notAfter={c.notAfter} />
      </td>
      <td className="px-3 py-1.5">
        <div className="flex justify-end gap-2">
          {acme ? (
            <button
              type="button"
              disabled={renewing}
              onClick={onRenew}
              aria-label={`Renew certificate for ${label}`}
              className={plainButton}
            >
              {renewing ? 'Renewing…' : 'Renew'}
            </button>
          ) : null}
          <button
            type="button"
            onClick={onDelete}
            aria-label={`Delete certificate for ${label}`}
            className={plainButton}
          >
            Delete
          </button>
        </div>
      </td>
    </tr>
  );
}

/**
 * Certificates and ACME orders: what serves (and until when), orders under way as a live progress
 * list, failed ones with their error and next try; request, renew, upload and delete.
 */
export function Certificates() {
  const [waiting, setWaiting] = useState(0);
  const [renewing, setRenewing] = useState('');
  const [deleting, setDeleting] = useState('');

  const { data: listing, error, setError, load } = useLoad(() => api<CertList>('GET', '/certificates'));
  const { busy, done, setDone, run } = useAction(setError);

  const later = useRef<ReturnType<typeof setTimeout>>(undefined);
  useEffect(() => () => clearTimeout(later.current), []);
  useStream({
    version: () => {
      void load();
      // A change may need a certificate: the manager looks once registrations settle (~0.5 s).
      clearTimeout(later.current);
      later.current = setTimeout(() => void load(), 1_500);
    },
    // What the proxy serves changed: a certificate arrived or went.
    edge: () => void load(),
  });

  const issuing = (listing?.orders ?? []).some((o) => o.state === 'issuing');
  const every = waiting > 0 ? OWN_REQUEST_MS : issuing ? ISSUING_MS : IDLE_MS;
  usePoll(load, every, every !== IDLE_MS);

  // A request or renewal blocks until issued: its order is read fast in the meantime.
  const onBusy = useCallback(
    (b: boolean) => {
      setWaiting((n) => n + (b ? 1 : -1));
      if (b) setTimeout(() => void load(), 50);
    },
    [load],
  );

  async function renew(c: CertView) {
    setRenewing(c.id);
    setDone('');
    setError('');
    onBusy(true);
    try {
      const next = await api<CertView>('POST', `/certificates/${encodeURIComponent(c.id)}/renew`);
      setDone(`Renewed ${next.names.join(', ')}: the new certificate serves until ${local(next.notAfter)}.`);
    } catch (e) {
      setError(`Renewing ${c.names.join(', ')}: ${messageOf(e)}`);
    } finally {
      setRenewing('');
      onBusy(false);
      await load();
    }
  }

  const remove = (c: CertView, revoke: boolean) =>
    run(async () => {
      await api(
        'DELETE',
        `/certificates/${encodeURIComponent(c.id)}?wait=true${revoke ? '&revoke=true' : ''}`,
      );
      setDeleting('');
      setDone(`Deleted the certificate for ${c.names.join(', ')}${revoke ? ' (revoked at the CA)' : ''}.`);
      await load();
    });

  const certs = listing?.certificates ?? [];
  const toDelete = certs.find((c) => c.id === deleting);
  return (
    <section aria-labelledby="certs-title" className="flex flex-col gap-6">
      <h1 id="certs-title" className="text-xl font-semibold">
        Certificates
      </h1>
      <RequestForm
        acme={listing?.acme ?? true}
        orders={listing?.orders ?? []}
        onBusy={onBusy}
        onDone={() => void load()}
      />
      <OrdersPanel orders={listing?.orders ?? []} />
      <div className="flex flex-wrap items-center gap-3">
        <h2 className="font-semibold">Certificates in store</h2>
        <RefreshButton onClick={() => void load()} />
      </div>
      <Outcome error={error} done={done} />
      {toDelete ? (
        <ConfirmDelete
          cert={toDelete}
          busy={busy}
          onConfirm={(revoke) => void remove(toDelete, revoke)}
          onCancel={() => setDeleting('')}
        />
      ) : null}
      <LoadedList items={listing?.certificates} empty="No certificates yet.">
        {(certs) => (
          <Table
            testId="certificates"
            columns={['Names', 'Source', 'Valid from', 'Expires', 'Left', actionsColumn]}
          >
            {certs.map((c) => (
              <CertRowView
                key={c.id}
                c={c}
                acme={!!listing?.acme}
                renewing={renewing === c.id}
                onRenew={() => void renew(c)}
                onDelete={() => {
                  setDone('');
                  setDeleting(c.id);
                }}
              />
            ))}
          </Table>
        )}
      </LoadedList>
      <UploadForm onDone={() => void load()} />
    </section>
  );
}
