import { useState } from 'react';
import type { SessionList, SessionView } from '../../../../src/api/views';
import { api } from '../../api';
import { RefreshButton } from '../../components/buttons';
import { ConfirmButton } from '../../components/ConfirmStep';
import { LoadedList } from '../../components/LoadedList';
import { Outcome } from '../../components/Notice';
import { Table } from '../../components/Table';
import { local as when } from '../../components/when';
import { useAction } from '../../hooks/useAction';
import { useLoad } from '../../hooks/useLoad';

/** How a session began: this UI's sign-in, the portal's password form, or an OIDC provider. */
function viaText(via: string): string {
  if (via === 'api') return 'this UI';
  if (via === 'password') return 'portal';
  return via ? `provider ${via}` : '—';
}

/**
 * Live sessions (portal, OIDC and this UI's own), each revocable after a confirmation. `reload`
 * changes when users change (a deleted or disabled user's sessions are gone).
 */
export function Sessions({ reload }: { reload: number }) {
  const [confirming, setConfirming] = useState('');
  const {
    data: sessions,
    error,
    setError,
    load,
  } = useLoad(() => api<SessionList>('GET', '/sessions').then((r) => r.sessions), reload);
  const { busy, done, setDone, run } = useAction(setError);

  const revoke = (s: SessionView) =>
    run(async () => {
      setError('');
      await api('DELETE', `/sessions/${encodeURIComponent(s.id)}`);
      setDone(`Revoked a session of ${s.username || 'a removed user'}.`);
      setConfirming('');
      await load();
    });

  return (
    <section aria-labelledby="sessions-title" className="flex flex-col gap-3">
      <div className="flex items-center gap-3">
        <h2 id="sessions-title" className="text-lg font-semibold">
          Sessions
        </h2>
        <RefreshButton onClick={() => void load()} />
      </div>
      <Outcome error={error} done={done} />
      <LoadedList items={sessions} empty="No live sessions.">
        {(sessions) => (
          <Table testId="sessions" columns={['User', 'Via', 'Address', 'Started', 'Expires', 'Actions']}>
            {sessions.map((s) => (
              <tr key={s.id} className="border-t border-slate-100 align-top" data-session-id={s.id}>
                <td className="px-3 py-1.5 font-medium">{s.username || '—'}</td>
                <td className="px-3 py-1.5">{viaText(s.via)}</td>
                <td className="px-3 py-1.5 font-mono text-xs" title={s.user_agent}>
                  {s.ip}
                </td>
                <td className="whitespace-nowrap px-3 py-1.5">{when(s.created_at)}</td>
                <td className="whitespace-nowrap px-3 py-1.5">{when(s.expires_at)}</td>
                <td className="px-3 py-1.5 text-right">
                  <ConfirmButton
                    asking={confirming === s.id}
                    onAsk={() => setConfirming(s.id)}
                    button="Revoke"
                    buttonLabel={`Revoke session of ${s.username} from ${s.ip}, started ${when(s.created_at)}`}
                    label={`Confirm revoking the session of ${s.username}`}
                    action={busy ? 'Revoking…' : 'Revoke session'}
                    busy={busy}
                    onConfirm={() => void revoke(s)}
                    onCancel={() => setConfirming('')}
                  >
                    End this session of {s.username}? (If it is yours, you are signed out.)
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
