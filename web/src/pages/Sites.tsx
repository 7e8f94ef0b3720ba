import { useState } from 'react';
import type { SiteList, SiteViewShape } from '../../../src/api/views';
import { api } from '../api';
import { plainButton, RefreshButton } from '../components/buttons';
import { ConfirmStep } from '../components/ConfirmStep';
import { LoadedList } from '../components/LoadedList';
import { Outcome } from '../components/Notice';
import { actionsColumn, Table } from '../components/Table';
import { local, relative } from '../components/when';
import { useAction } from '../hooks/useAction';
import { useLoad } from '../hooks/useLoad';
import { usePoll } from '../hooks/usePoll';
import { useStream } from '../hooks/useStream';
import { SiteAdd } from './sites/SiteAdd';

/** Handshakes and check-ins are announced by no event: read again this often (connectors sync every 5 s). */
const POLL_MS = 5_000;

const badge = 'inline-block rounded-full px-2 py-0.5 text-xs font-medium whitespace-nowrap';

/** Connected or not, and how old its last handshake is. */
function TunnelCell({ s }: { s: SiteViewShape }) {
  return (
    <div className="flex flex-col gap-0.5">
      <span
        data-testid="connected"
        className={`${badge} self-start ${s.connected ? 'bg-green-100 text-green-800' : 'bg-slate-200 text-slate-700'}`}
      >
        {s.connected ? 'connected' : 'not connected'}
      </span>
      <span
        className="text-xs text-slate-500"
        data-testid="handshake"
        title={s.last_handshake ? local(s.last_handshake) : undefined}
      >
        {s.last_handshake
          ? `handshake ${relative(s.last_handshake)}`
          : s.public_key
            ? 'no handshake yet'
            : 'connector never started'}
      </span>
    </div>
  );
}

function SiteRowView({ s, onRemove }: { s: SiteViewShape; onRemove: (name: string) => void }) {
  return (
    <tr className="border-t border-slate-100 align-top" data-site={s.name}>
      <td className="px-3 py-1.5 font-medium">{s.name}</td>
      <td className="px-3 py-1.5" data-testid="subnets">
        {s.subnets.length === 0 ? (
          <span className="text-slate-500">none</span>
        ) : (
          <ul>
            {s.subnets.map((n) => (
              <li key={n} className="whitespace-nowrap font-mono text-xs">
                {n}
              </li>
            ))}
          </ul>
        )}
      </td>
      <td className="px-3 py-1.5 font-mono" data-testid="address">
        {s.address}
      </td>
      <td className="px-3 py-1.5">
        <TunnelCell s={s} />
      </td>
      <td
        className="whitespace-nowrap px-3 py-1.5"
        data-testid="last-seen"
        title={s.last_seen ? local(s.last_seen) : undefined}
      >
        {s.last_seen ? relative(s.last_seen) : 'never'}
      </td>
      <td className="px-3 py-1.5 text-right">
        <button
          type="button"
          onClick={() => onRemove(s.name)}
          aria-label={`Remove site ${s.name}`}
          className={plainButton}
        >
          Remove
        </button>
      </td>
    </tr>
  );
}

/**
 * WireGuard sites (docs/sites.md): networks behind NAT whose connector dials out to the public
 * edges. Kept current by reading again every few seconds (handshakes and check-ins announce
 * themselves by no event) and on the stream's `version` and `node` events.
 */
export function Sites() {
  const [removing, setRemoving] = useState('');
  const {
    data: sites,
    error,
    setError,
    load,
  } = useLoad(async () => (await api<SiteList>('GET', '/sites')).sites);
  const { busy, done, setDone, run } = useAction(setError);
  const live = useStream({ version: () => void load(), node: () => void load() });
  usePoll(load, POLL_MS);

  const remove = (name: string) =>
    run(async () => {
      await api('DELETE', `/sites/${encodeURIComponent(name)}`);
      setRemoving('');
      setDone(`Removed site ${name}.`);
      await load();
    });

  return (
    <section aria-labelledby="sites-title" className="flex flex-col gap-6">
      <div className="flex items-center gap-3">
        <h1 id="sites-title" className="text-xl font-semibold">
          Sites
        </h1>
        <span
          className={`${badge} ${live ? 'bg-green-100 text-green-800' : 'bg-slate-200 text-slate-600'}`}
          data-testid="live"
        >
          {live ? 'live' : 'offline'}
        </span>
      </div>
      <p className="text-sm text-slate-600">
        A site is a network behind NAT (a home, an office). A machine there dials out to the public edges over
        WireGuard, and they proxy to the site’s subnets through that tunnel: no port opened at the site.
      </p>
      <SiteAdd onAdded={() => void load()} />
      <div className="flex flex-wrap items-center gap-3">
        <h2 className="font-semibold">Sites and their tunnels</h2>
        {sites?.length ? (
          <span className="text-sm text-slate-600" data-testid="sites-connected">
            {sites.filter((s) => s.connected).length} of {sites.length} connected
          </span>
        ) : null}
        <RefreshButton onClick={() => void load()} />
      </div>
      <Outcome error={error} done={done} />
      {removing ? (
        <ConfirmStep
          label="Confirm removal"
          action={busy ? 'Removing…' : `Remove ${removing}`}
          busy={busy}
          onConfirm={() => void remove(removing)}
          onCancel={() => setRemoving('')}
        >
          Remove site <strong>{removing}</strong>? Its token stops working and every public edge drops its
          peer and its routes: services at the site are no longer reachable through the edges.
        </ConfirmStep>
      ) : null}
      <LoadedList items={sites} empty="No sites yet.">
        {(sites) => (
          <Table
            testId="sites"
            columns={['Name', 'Subnets', 'Tunnel IP', 'Tunnel', 'Last check-in', actionsColumn]}
          >
            {sites.map((s) => (
              <SiteRowView
                key={s.name}
                s={s}
                onRemove={(name) => {
                  setDone('');
                  setRemoving(name);
                }}
              />
            ))}
          </Table>
        )}
      </LoadedList>
    </section>
  );
}
