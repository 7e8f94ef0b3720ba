import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { SignedIn } from '../../../src/api/views';
import { api, ApiError, messageOf } from '../api';
import { buttonClass } from '../components/buttons';
import { Field } from '../components/Field';
import { Notice } from '../components/Notice';

/** Admin sign-in: username and password, then a TOTP code when the API asks for one. */
export function SignIn({ onSignedIn }: { onSignedIn: (s: SignedIn) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [totp, setTotp] = useState('');
  const [needTotp, setNeedTotp] = useState(false);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [setupNeeded, setSetupNeeded] = useState(false);
  const totpRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (needTotp) totpRef.current?.focus();
  }, [needTotp]);

  // First run: the API says whether an admin exists yet (and nothing more) while signed out.
  useEffect(() => {
    api<SignedIn>('GET', '/session').then(
      () => undefined,
      (err: unknown) => {
        if (err instanceof ApiError && err.body.setup_needed) setSetupNeeded(true);
      },
    );
  }, []);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const s = await api<SignedIn>('POST', '/session', {
        username,
        password,
        ...(needTotp && totp ? { totp: totp.trim() } : {}),
      });
      onSignedIn(s);
    } catch (err) {
      if (err instanceof ApiError && err.body.code === 'totp_required') {
        // Not a failure: the account has a second factor; ask for it without an error banner.
        setNeedTotp(true);
      } else setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="flex min-h-screen items-center justify-center px-4">
      <form
        onSubmit={(e) => void submit(e)}
        className="flex w-full max-w-sm flex-col gap-4 rounded-lg border border-slate-200 bg-white p-6 shadow-sm"
        aria-labelledby="signin-title"
      >
        <h1 id="signin-title" className="text-xl font-semibold">
          Sign in to Gatehouse
        </h1>
        {setupNeeded ? (
          <Notice kind="warn">
            No admin user yet. On the Gatehouse machine, run{' '}
            <code className="font-mono">gatehouse user add NAME --admin</code> (with the same{' '}
            <code className="whitespace-nowrap font-mono">--data-dir</code> as{' '}
            <code className="whitespace-nowrap font-mono">gatehouse up</code>
            ); it prints a password to sign in with here.
          </Notice>
        ) : null}
        <Field
          label="Username"
          name="username"
          autoComplete="username"
          autoFocus
          required
          value={username}
          onChange={(e) => setUsername(e.target.value)}
        />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        {needTotp ? (
          <Field
            ref={totpRef}
            label="Authenticator code"
            name="totp"
            inputMode="numeric"
            autoComplete="one-time-code"
            required
            value={totp}
            onChange={(e) => setTotp(e.target.value)}
          />
        ) : null}
        {needTotp ? (
          <p className="text-sm text-slate-600">
            Enter the code from your authenticator app (or a recovery code).
          </p>
        ) : null}
        {error ? <Notice kind="error">{error}</Notice> : null}
        <button type="submit" disabled={busy} className={buttonClass}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
