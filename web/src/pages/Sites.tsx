import { useState } from 'react';
import type { SiteList, SiteViewShape } from '../../../src/api/views';
import { api } from '../api';
import { StateBadge } from '../components/badges';
import { plainButton } from '../components/buttons';
import { ConfirmStep } from '../components/ConfirmStep';
import { LoadedList } from '../components/LoadedList';
import { ListHeading, PageHeader } from '../components/PageHeader';
import { Outcome } from '../components/Notice';
import { actionsColumn, Table } from '../components/Table';
import { local, relative } from '../components/when';
import { useAction } from '../hooks/useAction';
import { useLoad } from '../hooks/useLoad';
import { usePoll } from '../hooks/usePoll';
import { useStream } from '../hooks/useStream';
import { SiteAdd } from './sites/SiteAdd';
import { bytes, latency } from './vpn/format';

/** Handshakes and check-ins are announced by no event: read again this often (connectors sync every 5 s). */
const POLL_MS = 5_000;

/** The newest handshake: the edges' own (`wg show`), else the one the connector reported. */
function newestHandshake(s: SiteViewShape): string | null {
  const all = [s.last_handshake, ...s.tunnel.edges.map((e) => e.last_handshake)].filter(
    (x): x is string => x !== null,
  );
  return all.sort().at(-1) ?? null;
}

/** Connected or not, and how old its last handshake is. */
function TunnelCell({ s }: { s: SiteViewShape }) {
  const hs = newestHandshake(s);
  return (
    <div className="flex flex-col gap-0.5">
      <StateBadge
        on={s.connected || s.tunnel.up}
        yes="connected"
        no="not connected"
        testId="connected"
        className="self-start"
      />
      <span className="text-xs text-slate-500" data-testid="handshake" title={hs ? local(hs) : undefined}>
        {hs ? `handshake ${relative(hs)}` : s.public_key ? 'no handshake yet' : 'connector never started'}
      </span>
    </div>
  );
}

/** The round trip of the latest probe through each edge (every 5 s); the best one first. */
function LatencyCell({ s }: { s: SiteViewShape }) {
  const t = s.tunnel;
  if (t.edges.length === 0) return <span className="text-slate-500">—</span>;
  return (
    <div className="flex flex-col gap-0.5">
      <span data-testid="latency" className="whitespace-nowrap font-medium">
        {t.latency_ms === null ? 'no answer' : latency(t.latency_ms)}
      </span>
      {t.edges.map((e) => (
        <span key={e.edge} className="whitespace-nowrap text-xs text-slate-500" data-edge={e.edge}>
          via {e.edge}: {e.up && e.latency_ms !== null ? latency(e.latency_ms) : 'down'}
        </span>
      ))}
    </div>
  );
}

function SiteRowView({
  s,
  onRemove,
  onSiteToSite,
}: {
  s: SiteViewShape;
  onRemove: (name: string) => void;
  onSiteToSite: (name: string, on: boolean) => void;
}) {
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
      <td className="px-3 py-1.5">
        <LatencyCell s={s} />
      </td>
      <td className="whitespace-nowrap px-3 py-1.5" data-testid="bytes">
        {bytes(s.tunnel.rx_bytes)} / {bytes(s.tunnel.tx_bytes)}
      </td>
      <td className="whitespace-nowrap px-3 py-1.5" data-testid="site-to-site">
        {s.site_to_site ? 'on' : 'off'}{' '}
        <button
          type="button"
          onClick={() => onSiteToSite(s.name, !s.site_to_site)}
          aria-label={`Turn site-to-site ${s.site_to_site ? 'off' : 'on'} for ${s.name}`}
          className={plainButton}
        >
          {s.site_to_site ? 'Turn off' : 'Turn on'}
        </button>
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

  const siteToSite = (name: string, on: boolean) =>
    run(async () => {
      await api('PATCH', `/sites/${encodeURIComponent(name)}`, { site_to_site: on });
      setDone(`Site-to-site ${on ? 'on' : 'off'} for ${name}.`);
      await load();
    });

  return (
    <section aria-labelledby="sites-title" className="flex flex-col gap-6">
      <PageHeader id="sites-title" title="Sites" live={live} />
      <p className="text-sm text-slate-600">
        A site is a network behind NAT (a home, an office). A machine there dials out to the public edges over
        WireGuard, and they proxy to the site’s subnets through that tunnel: no port opened at the site.
      </p>
      <SiteAdd onAdded={() => void load()} />
      <ListHeading title="Sites and their tunnels" onRefresh={() => void load()}>
        {sites?.length ? (
          <span className="text-sm text-slate-600" data-testid="sites-connected">
            {sites.filter((s) => s.connected || s.tunnel.up).length} of {sites.length} connected
          </span>
        ) : null}
      </ListHeading>
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
            columns={[
              'Name',
              'Subnets',
              'Tunnel IP',
              'Tunnel',
              'Latency',
              'Received / sent',
              'Site-to-site',
              'Last check-in',
              actionsColumn,
            ]}
          >
            {sites.map((s) => (
              <SiteRowView
                key={s.name}
                s={s}
                onSiteToSite={(name, on) => void siteToSite(name, on)}
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
