import { useState } from 'react';
import type { AlertChannelList, AlertChannelView, AlertTest } from '../../../../src/api/views';
import { api, messageOf } from '../../api';
import { plainButton, RefreshButton } from '../../components/buttons';
import { ConfirmButton } from '../../components/ConfirmStep';
import { LoadedList } from '../../components/LoadedList';
import { Outcome } from '../../components/Notice';
import { actionsColumn, Table } from '../../components/Table';
import { local, relative } from '../../components/when';
import { useAction } from '../../hooks/useAction';
import { useLoad } from '../../hooks/useLoad';
import { AddChannel } from './AddChannel';

/** A channel's settings without its secrets (the server never sends them); the set ones named. */
function Settings({ c }: { c: AlertChannelView }) {
  const shown = Object.entries(c.config).filter(
    ([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0),
  );
  return (
    <dl className="grid grid-cols-[auto_1fr] gap-x-2 font-mono text-xs">
      {shown.map(([k, v]) => (
        <div key={k} className="contents">
          <dt className="text-slate-500">{k}</dt>
          <dd className="break-all">{Array.isArray(v) ? v.join(', ') : String(v)}</dd>
        </div>
      ))}
      {c.sealed.map((k) => (
        <div key={k} className="contents">
          <dt className="text-slate-500">{k}</dt>
          <dd className="font-sans text-slate-500 italic">sealed</dd>
        </div>
      ))}
    </dl>
  );
}

/** What the alert engine saw sending to a channel: the last delivery, and the last error while it fails. */
function Delivery({ c }: { c: AlertChannelView }) {
  const d = c.delivery;
  if (!d) return <span className="text-xs text-slate-500">no alert sent yet</span>;
  return (
    <div className="text-xs">
      <div title={d.last_sent ? local(d.last_sent) : ''}>
        last sent: {d.last_sent ? relative(d.last_sent) : 'never'}
      </div>
      {d.failures > 0 && d.last_error ? (
        <p role="alert" className="max-w-xs break-words text-red-700">
          failing ({d.failures} in a row{d.pending ? `, ${d.pending} waiting to be retried` : ''}):{' '}
          {d.last_error}
        </p>
      ) : null}
    </div>
  );
}

/** The last test of a channel: delivered, or the server's reason (a 502). */
interface Tested {
  ok: boolean;
  text: string;
}

function TestOutcome({ t }: { t: Tested | undefined }) {
  if (!t) return null;
  return (
    <p
      role={t.ok ? 'status' : 'alert'}
      data-testid="test-outcome"
      className={`mt-1 max-w-xs text-left text-xs break-words ${t.ok ? 'text-green-800' : 'text-red-700'}`}
    >
      {t.text}
    </p>
  );
}

/**
 * Alert channels (issue 18): the ones stored (never a secret), a "Send test" per channel with its
 * outcome, a form for a new one checked with the model's schema, removal after a confirmation.
 */
export function AlertChannels() {
  const [open, setOpen] = useState(false);
  const [confirming, setConfirming] = useState('');
  const [testing, setTesting] = useState('');
  const [tested, setTested] = useState<Record<string, Tested>>({});
  const { data, error, setError, load } = useLoad(() => api<AlertChannelList>('GET', '/alert-channels'));
  const { busy, done, setDone, run } = useAction(setError);

  const remove = (name: string) =>
    run(async () => {
      setError('');
      await api('DELETE', `/alert-channels/${encodeURIComponent(name)}`);
      setConfirming('');
      setDone(`Removed ${name}.`);
      await load();
    });

  const test = async (name: string) => {
    setTesting(name);
    setTested((t) => ({ ...t, [name]: { ok: true, text: 'Sending…' } }));
    try {
      await api<AlertTest>('POST', `/alert-channels/${encodeURIComponent(name)}/test`);
      setTested((t) => ({ ...t, [name]: { ok: true, text: 'ok: the test message was delivered.' } }));
    } catch (e) {
      setTested((t) => ({ ...t, [name]: { ok: false, text: messageOf(e) } }));
    } finally {
      setTesting('');
    }
  };

  return (
    <section aria-labelledby="alert-ch-title" className="flex flex-col gap-3" data-testid="alert-channels">
      <div className="flex flex-wrap items-center gap-x-3 gap-y-2">
        <h2 id="alert-ch-title" className="font-semibold">
          Channels
        </h2>
        <div className="flex gap-3">
          <button
            type="button"
            className={plainButton}
            aria-expanded={open}
            onClick={() => setOpen((o) => !o)}
          >
            {open ? 'Hide the form' : 'Add channel'}
          </button>
          <RefreshButton onClick={() => void load()} />
        </div>
      </div>
      {open ? (
        <AddChannel
          onAdded={() => {
            setDone('');
            void load();
          }}
        />
      ) : null}
      <Outcome error={error} done={done} />
      <LoadedList items={data?.channels} empty="No alert channels yet: alerts go nowhere.">
        {(channels) => (
          <Table
            testId="alert-channel-list"
            columns={['Name', 'Type', 'Settings', 'Delivery', 'Added', actionsColumn]}
          >
            {channels.map((c) => (
              <tr key={c.name} className="border-t border-slate-100 align-top" data-channel={c.name}>
                <td className="px-3 py-1.5 font-medium">{c.name}</td>
                <td className="px-3 py-1.5">{c.type}</td>
                <td className="px-3 py-1.5" data-testid="settings">
                  <Settings c={c} />
                </td>
                <td className="px-3 py-1.5" data-testid="delivery">
                  <Delivery c={c} />
                </td>
                <td className="px-3 py-1.5 whitespace-nowrap" title={local(c.created_at)}>
                  {relative(c.created_at)}
                </td>
                <td className="px-3 py-1.5 text-right">
                  <div className="flex flex-wrap justify-end gap-3">
                    <button
                      type="button"
                      className={plainButton}
                      aria-label={`Send a test to ${c.name}`}
                      disabled={testing === c.name}
                      onClick={() => void test(c.name)}
                    >
                      {testing === c.name ? 'Sending…' : 'Send test'}
                    </button>
                    <ConfirmButton
                      asking={confirming === c.name}
                      onAsk={() => setConfirming(c.name)}
                      button="Remove"
                      buttonLabel={`Remove alert channel ${c.name}`}
                      label={`Confirm removing alert channel ${c.name}`}
                      action={busy ? 'Removing…' : 'Remove channel'}
                      busy={busy}
                      onConfirm={() => void remove(c.name)}
                      onCancel={() => setConfirming('')}
                    >
                      Remove {c.name}? Alerts are no longer sent to it.
                    </ConfirmButton>
                  </div>
                  <TestOutcome t={tested[c.name]} />
                </td>
              </tr>
            ))}
          </Table>
        )}
      </LoadedList>
    </section>
  );
}
