import QRCode from 'qrcode';
import { useEffect, useRef, useState } from 'react';
import type { TotpEnrolment, UserView } from '../../../../src/api/views';
import { api, messageOf } from '../../api';
import { buttonClass, plainButton } from '../../components/buttons';
import { ConfirmStep } from '../../components/ConfirmStep';
import { Notice, Outcome } from '../../components/Notice';
import { useAction } from '../../hooks/useAction';

/** The otpauth URL as a QR code drawn here (an SVG from the qrcode library): no outside service sees it. */
function QrImage({ url, username }: { url: string; username: string }) {
  const [src, setSrc] = useState('');
  const [error, setError] = useState('');
  useEffect(() => {
    let live = true;
    QRCode.toString(url, { type: 'svg', margin: 2, errorCorrectionLevel: 'M' }).then(
      (svg) => live && setSrc(`data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`),
      (e: unknown) => live && setError(messageOf(e)),
    );
    return () => {
      live = false;
    };
  }, [url]);
  if (error) return <Notice kind="error">The QR code could not be drawn: {error}</Notice>;
  if (!src) return <p className="text-sm text-slate-500">Drawing the QR code…</p>;
  return (
    <img
      src={src}
      alt={`QR code to add ${username} to an authenticator app`}
      width={208}
      height={208}
      className="h-52 w-52 rounded border border-slate-200 bg-white"
    />
  );
}

/** What an enrolment returns, shown once: the QR code, the secret for typing in, the recovery codes. */
function Enrolled({ username, data, onDone }: { username: string; data: TotpEnrolment; onDone: () => void }) {
  // The button that had the focus is gone: the keyboard goes on from what it made.
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => ref.current?.focus(), [data]);
  return (
    <div
      ref={ref}
      tabIndex={-1}
      role="region"
      aria-label={`TOTP enrolment for ${username}`}
      className="flex flex-col gap-3 rounded border border-green-200 bg-green-50 p-3 text-sm text-green-900 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500"
    >
      <p role="status">
        TOTP is on for {username}. Scan the code with an authenticator app, or type the secret in. This is
        shown only now.
      </p>
      <div className="flex flex-wrap items-start gap-4">
        <QrImage url={data.url} username={username} />
        <div className="flex min-w-0 flex-1 flex-col gap-3">
          <div className="flex flex-col gap-1">
            <label htmlFor="totp-secret" className="font-medium">
              Secret (for manual entry)
            </label>
            <input
              id="totp-secret"
              readOnly
              value={data.secret}
              onFocus={(e) => e.target.select()}
              className="min-w-0 rounded border border-slate-300 bg-white px-3 py-2 font-mono text-sm break-all"
            />
          </div>
          {data.recovery_codes.length ? (
            <div className="flex flex-col gap-1">
              <span id="totp-recovery" className="font-medium">
                Recovery codes (each works once, in place of a code from the app)
              </span>
              <ul aria-labelledby="totp-recovery" className="grid grid-cols-2 gap-1 font-mono sm:grid-cols-3">
                {data.recovery_codes.map((c) => (
                  <li key={c} className="rounded bg-white px-2 py-1">
                    {c}
                  </li>
                ))}
              </ul>
            </div>
          ) : null}
        </div>
      </div>
      <div>
        <button type="button" onClick={onDone} className={plainButton}>
          Done, hide the secret
        </button>
      </div>
    </div>
  );
}

/** A user's second factor: enrol (again), or remove it after a confirmation. */
export function UserTotp({ user, onChanged }: { user: UserView; onChanged: () => void }) {
  const [enrolled, setEnrolled] = useState<TotpEnrolment | null>(null);
  const [confirming, setConfirming] = useState<'' | 'remove' | 'replace'>('');
  const [error, setError] = useState('');
  const { busy, done, setDone, run } = useAction(setError);
  const path = `/users/${encodeURIComponent(user.username)}/totp`;

  const enrol = () =>
    run(async () => {
      setError('');
      setEnrolled(await api<TotpEnrolment>('POST', path));
      setConfirming('');
      onChanged();
    });

  const remove = () =>
    run(async () => {
      setError('');
      await api('DELETE', path);
      setConfirming('');
      setEnrolled(null);
      setDone(`TOTP is off for ${user.username}: a password alone signs in now.`);
      onChanged();
    });

  return (
    <div className="flex flex-col gap-3">
      <h3 className="font-semibold">Second factor (TOTP)</h3>
      <p className="text-sm text-slate-600">
        {user.totp ? 'On: signing in asks for a code from an authenticator app.' : 'Off.'}
      </p>
      <Outcome error={error} done={done} />
      {enrolled ? (
        <Enrolled username={user.username} data={enrolled} onDone={() => setEnrolled(null)} />
      ) : null}
      {confirming === 'remove' ? (
        <ConfirmStep
          label="Confirm removing TOTP"
          action={busy ? 'Removing…' : 'Remove TOTP'}
          busy={busy}
          onConfirm={() => void remove()}
          onCancel={() => setConfirming('')}
        >
          Remove the second factor of {user.username}? Their password alone will sign them in.
        </ConfirmStep>
      ) : confirming === 'replace' ? (
        <ConfirmStep
          label="Confirm new TOTP secret"
          action={busy ? 'Enrolling…' : 'Make a new secret'}
          busy={busy}
          onConfirm={() => void enrol()}
          onCancel={() => setConfirming('')}
        >
          Replace the secret of {user.username}? Their authenticator app and recovery codes stop working.
        </ConfirmStep>
      ) : (
        <div className="flex flex-wrap gap-2">
          {user.totp ? (
            <>
              <button type="button" onClick={() => setConfirming('replace')} className={plainButton}>
                Enrol again
              </button>
              <button type="button" onClick={() => setConfirming('remove')} className={plainButton}>
                Remove TOTP
              </button>
            </>
          ) : (
            <button type="button" disabled={busy} onClick={() => void enrol()} className={buttonClass}>
              {busy ? 'Enrolling…' : 'Enrol TOTP'}
            </button>
          )}
        </div>
      )}
    </div>
  );
}
