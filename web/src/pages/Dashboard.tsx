import { useState } from 'react';
import type {
  EventList,
  EventSummary,
  LinkList,
  LinkView,
  NodeList,
  NodeStatusView,
  SiteList,
  Status,
  StreamEvent,
  VpnClientList,
} from '../../../src/api/views';
import { api } from '../api';
import { BackupsCard } from '../components/BackupsCard';
import { CrowdsecCard } from '../components/CrowdsecCard';
import { Notice } from '../components/Notice';
import { PageHeader } from '../components/PageHeader';
import { Table } from '../components/Table';
import { local } from '../components/when';
import { useLoad } from '../hooks/useLoad';
import { usePoll } from '../hooks/usePoll';
import { useStream } from '../hooks/useStream';
import { Counts } from './dashboard/Counts';
import { serviceOfKey, type EdgeEvent } from './dashboard/edge';
import { logsHref } from './logs/filters';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Tunnels' figures (latency, handshakes) come every 5 s and are announced by no event. */
const SITES_POLL_MS = 5_000;

/** The last day's events in the four tallies an operator watches. */
const TALLIES: [string, string, (kind: string) => boolean][] = [
  [
    'tally-denied',
    'Denied',
    (k) => k === 'denied' || k === 'unauthenticated' || k === 'link_refused' || k === 'waf_blocked',
  ],
  ['tally-failed', 'Failed sign-ins', (k) => k === 'login_failed' || k === 'totp_failed'],
  ['tally-limited', 'Rate limited', (k) => k === 'rate_limited' || k === 'login_throttled'],
  ['tally-links', 'Links used', (k) => k === 'link_used'],
];

/** A security event, read from /events or as it happens on the stream (which has no `id` yet). */
type SecurityEvent = StreamEvent<'security'>;

/** The dashboard's data: read from the API, then kept current by its event stream. */
function useDashboard() {
  const [status, setStatus] = useState<Status | null>(null);
  const [edge, setEdge] = useState<EdgeEvent | null>(null);
  const [nodes, setNodes] = useState<NodeStatusView[]>([]);
  const [links, setLinks] = useState<LinkView[]>([]);
  const [events, setEvents] = useState<SecurityEvent[]>([]);
  /** The last day's events by kind, counted by the API (all of them, not a page). */
  const [tally, setTally] = useState<Record<string, number>>({});

  const { error, load } = useLoad(async () => {
    const [s, n, ev, l, sum] = await Promise.all([
      api<Status>('GET', '/status'),
      api<NodeList>('GET', '/nodes'),
      api<EventList>('GET', '/events?limit=200'),
      api<LinkList>('GET', '/links'),
      api<EventSummary>('GET', '/events/summary?hours=24'),
    ]);
    setStatus(s);
    setLinks(l.links.filter((x) => x.state === 'active'));
    setEdge((cur) => cur ?? { ...s.edge, lastError: s.edge.lastError ?? null });
    setNodes(n.nodes);
    const since = Date.now() - DAY_MS;
    setEvents(ev.events.filter((e) => Date.parse(e.at) >= since));
    setTally(sum.counts);
  });
  const live = useStream({
    edge: (data) => setEdge(JSON.parse(data) as EdgeEvent),
    version: () => void load(),
    security: (data) => {
      const e = JSON.parse(data) as SecurityEvent;
      setEvents((cur) => [e, ...cur].slice(0, 200));
      setTally((cur) => ({ ...cur, [e.kind]: (cur[e.kind] ?? 0) + 1 }));
    },
  });
  // A tunnel's handshake ageing out is announced by no event: its own, slower re-read.
  const { data: sites, load: loadSites } = useLoad(async () => (await api<SiteList>('GET', '/sites')).sites);
  usePoll(loadSites, SITES_POLL_MS);
  const { data: vpn, load: loadVpn } = useLoad(
    async () => (await api<VpnClientList>('GET', '/vpn/clients')).clients,
  );
  usePoll(loadVpn, SITES_POLL_MS);
  return { status, edge, nodes, links, sites, vpn, events, tally, error, live };
}

/** To the access log's server errors of a service in the last hour. */
function LogLink({ service }: { service: string }) {
  return (
    <a className="underline" href={logsHref({ service, status: '5xx', since: '1h' })}>
      5xx log lines
    </a>
  );
}

/** Denials (401, 403, 429) in the access log. */
const DENIED = '401,403,429';

/** The upstreams a health check found down and those nginx's own answers show failing. */
function Upstreams({ edge }: { edge: EdgeEvent | null }) {
  const down = edge?.downServers ?? [];
  const failing = edge?.failingServers ?? [];
  return (
    <div aria-live="polite">
      <h2 className="mb-2 font-semibold">Upstreams</h2>
      {down.length === 0 && failing.length === 0 ? (
        <p className="text-sm text-slate-500">
          No upstream is down or failing.{' '}
          {edge?.checkedServers.length
            ? `${edge.checkedServers.length} under active health checks; others are watched through the requests nginx passes.`
            : 'None has an active health check; failures show here from the requests nginx passes.'}
        </p>
      ) : null}
      {down.length ? (
        <ul className="mb-2 flex flex-col gap-1" data-testid="down-list">
          {down.map((s) => (
            <li key={s} className="rounded bg-red-50 px-3 py-1.5 text-sm text-red-800">
              <span className="font-mono break-all">{s}</span> down (failed its health check){' '}
              <LogLink service={serviceOfKey(s)} />
            </li>
          ))}
        </ul>
      ) : null}
      {failing.length ? (
        <ul className="flex flex-col gap-1" data-testid="failing-list">
          {failing.map((f) => (
            <li key={f.server} className="rounded bg-red-50 px-3 py-1.5 text-sm text-red-800">
              <span className="font-mono break-all">{f.server}</span> failing ({f.errors} error
              {f.errors === 1 ? '' : 's'} in the last minute; last{' '}
              {f.lastStatus === '504' ? 'timed out' : 'refused or broke off'} {local(f.lastAt)}){' '}
              <LogLink service={serviceOfKey(f.server)} />
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

/** The last day's security events: the tallies, then the latest fifty. */
function SecurityEvents({ events, tally }: { events: SecurityEvent[]; tally: Record<string, number> }) {
  return (
    <div>
      <h2 className="mb-2 font-semibold">Security events (last 24 h)</h2>
      <div className="mb-3 flex flex-wrap gap-2">
        {TALLIES.map(([id, label, match]) => (
          <span key={id} data-testid={id} className="rounded bg-slate-100 px-3 py-1 text-sm">
            {label}:{' '}
            <strong>
              {Object.entries(tally)
                .filter(([kind]) => match(kind))
                .reduce((n, [, c]) => n + c, 0)}
            </strong>
            {id === 'tally-denied' ? (
              <>
                {' '}
                <a className="text-sky-700 underline" href={logsHref({ status: DENIED, since: '24h' })}>
                  log lines
                </a>
              </>
            ) : null}
          </span>
        ))}
      </div>
      {events.length === 0 ? (
        <p className="text-sm text-slate-500">None.</p>
      ) : (
        <Table testId="events" columns={['Time', 'Event', 'Where', 'User', 'Address']}>
          {events.slice(0, 50).map((e, i) => (
            <tr key={`${e.at}-${i}`} className="border-t border-slate-100">
              <td className="whitespace-nowrap px-3 py-1.5">{local(e.at)}</td>
              <td className="px-3 py-1.5">{e.kind}</td>
              <td className="px-3 py-1.5 break-all" data-testid="event-where">
                {e.host ? `${e.host}${e.path}` : /^(tunnel|vpn_client)_/.test(e.kind) ? e.detail : ''}
              </td>
              <td className="px-3 py-1.5">{e.username}</td>
              <td className="px-3 py-1.5 font-mono">
                {e.ip &&
                /^(denied|unauthenticated|rate_limited|link_refused|waf_blocked|waf_detected)$/.test(
                  e.kind,
                ) ? (
                  <a
                    className="text-sky-700 underline"
                    title="This address's denied requests in the access log"
                    href={logsHref({ client: e.ip, status: DENIED, since: '24h' })}
                  >
                    {e.ip}
                  </a>
                ) : (
                  e.ip
                )}
              </td>
            </tr>
          ))}
        </Table>
      )}
    </div>
  );
}

/**
 * Counts and recent security events, then kept current by the API's event stream: `edge` replaces
 * the proxy's state as is (an upstream going down shows at once), `version` re-reads the counts.
 */
export function Dashboard() {
  const { status, edge, nodes, links, sites, vpn, events, tally, error, live } = useDashboard();
  return (
    <section aria-labelledby="dash-title" className="flex flex-col gap-6">
      <PageHeader id="dash-title" title="Dashboard" live={live} />
      {error ? <Notice kind="error">{error}</Notice> : null}
      <Counts status={status} edge={edge} nodes={nodes} sites={sites} vpn={vpn} links={links} />
      {edge?.lastError ? <Notice kind="warn">Proxy: {edge.lastError.message}</Notice> : null}
      {status?.data_key ? <Notice kind="error">{status.data_key.message}</Notice> : null}
      <Upstreams edge={edge} />
      <CrowdsecCard />
      <SecurityEvents events={events} tally={tally} />
      <BackupsCard />
    </section>
  );
}
