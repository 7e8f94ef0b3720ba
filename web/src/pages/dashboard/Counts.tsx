// The dashboard's counts at the top (services, upstreams, nodes, tunnels, link clients,
// certificates) and the tiles they are drawn in.
import type { ReactNode } from 'react';
import type { LinkView, NodeStatusView, SiteViewShape, Status } from '../../../../src/api/views';
import { isOnline, latency, type VpnClientShape } from '../vpn/format';
import { serviceOfKey, type EdgeEvent } from './edge';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The services card's line: only an active check says healthy; a service nobody checks is "not
 * checked" unless nginx's own answers showed it failing.
 */
function healthLine(services: number, edge: EdgeEvent): string {
  const failing = new Set(
    [...edge.downServers, ...edge.failingServers.map((f) => f.server)].map(serviceOfKey),
  );
  const checked = new Set(edge.checkedServers.map(serviceOfKey));
  const unchecked = Math.max(0, services - new Set([...checked, ...failing]).size);
  const parts = [];
  if (failing.size) parts.push(`${failing.size} failing`);
  if (unchecked) parts.push(`${unchecked} not checked`);
  return parts.length ? parts.join(', ') : 'all checked and healthy';
}

interface CountProps {
  label: string;
  value: string;
  detail?: string | undefined;
  testId: string;
}

/** One count: what it counts, the number, a line of detail. */
function Count({ label, value, detail, testId }: CountProps) {
  return (
    <div data-testid={testId} className="min-w-0">
      <p className="text-sm text-slate-500">{label}</p>
      <p className="mt-1 text-2xl font-semibold">{value}</p>
      {detail ? <p className="mt-1 text-xs text-slate-500">{detail}</p> : null}
    </div>
  );
}

function Card(props: CountProps) {
  return (
    <div className="rounded-lg border border-slate-200 bg-white p-4">
      <Count {...props} />
    </div>
  );
}

/** Each site's tunnel latency (the best edge's latest probe), under the tunnels' counts. */
function SiteLatencies({ sites }: { sites: SiteViewShape[] | null }) {
  if (!sites?.length) return null;
  return (
    <ul
      data-testid="tunnel-latency"
      aria-label="Tunnel latency per site"
      title="Tunnel latency per site (the best edge's latest probe, every 5 s)"
      className="flex flex-col gap-0.5 border-t border-slate-100 pt-2 text-xs"
    >
      {sites.slice(0, 8).map((s) => (
        <li key={s.name} data-site={s.name} className="flex justify-between gap-3">
          <span className="truncate">{s.name}</span>
          <span className={s.tunnel.up ? 'font-medium' : 'text-slate-500'}>
            {s.tunnel.up && s.tunnel.latency_ms !== null ? latency(s.tunnel.latency_ms) : 'down'}
          </span>
        </li>
      ))}
      {sites.length > 8 ? <li className="text-slate-500">and {sites.length - 8} more</li> : null}
    </ul>
  );
}

/** Two counts sharing one tile (the tunnels': sites and VPN clients), so the grid keeps its shape. */
function PairCard({
  label,
  first,
  second,
  children,
}: {
  label: string;
  first: CountProps;
  second: CountProps;
  children?: ReactNode;
}) {
  return (
    <div
      role="group"
      aria-label={label}
      className="flex flex-col gap-3 rounded-lg border border-slate-200 bg-white p-4"
    >
      <div className="flex flex-col gap-3 sm:flex-row sm:gap-4">
        <Count {...first} />
        <div className="border-t border-slate-100 pt-3 sm:border-l sm:border-t-0 sm:pl-4 sm:pt-0">
          <Count {...second} />
        </div>
      </div>
      {children}
    </div>
  );
}

/** The VPN clients that may connect (not expired). */
const usable = (vpn: VpnClientShape[]) => vpn.filter((c) => !c.expired);

function vpnDetail(vpn: VpnClientShape[] | null): string | undefined {
  if (vpn?.length === 0) return 'none added';
  const expired = vpn ? vpn.length - usable(vpn).length : 0;
  return expired ? `${expired} expired` : undefined;
}

/** The counts at the top: services, upstreams in trouble, nodes, sites, VPN clients, link clients, certificates. */
export function Counts({
  status,
  edge,
  nodes,
  sites,
  vpn,
  links,
}: {
  status: Status | null;
  edge: EdgeEvent | null;
  nodes: NodeStatusView[];
  /** null until read. */
  sites: SiteViewShape[] | null;
  /** null until read. */
  vpn: VpnClientShape[] | null;
  links: LinkView[];
}) {
  const down = edge?.downServers ?? [];
  const next = status?.certificates.next_expiry;
  const daysLeft = next ? Math.floor((Date.parse(next.not_after) - Date.now()) / DAY_MS) : null;
  const failing = edge?.failingServers ?? [];
  const issuing = status?.certificates.issuing ?? [];
  const failed = status?.certificates.failed ?? [];
  return (
    <div className="grid grid-cols-2 gap-3 md:grid-cols-3">
      <Card
        testId="count-services"
        label="Services"
        value={status ? String(status.services) : '…'}
        detail={status && edge ? healthLine(status.services, edge) : undefined}
      />
      <Card
        testId="count-down"
        label="Upstreams down or failing"
        value={edge ? String(down.length + failing.length) : '…'}
      />
      <Card
        testId="count-nodes"
        label="Nodes online"
        value={status ? `${nodes.filter((n) => n.online).length} / ${nodes.length}` : '…'}
        detail={
          nodes.length
            ? `${nodes.filter((n) => n.in_sync).length} serving version ${status?.version ?? ''}`
            : undefined
        }
      />
      <PairCard
        label="Tunnels"
        first={{
          testId: 'count-sites',
          label: 'Sites connected',
          value: sites ? `${sites.filter((x) => x.connected || x.tunnel.up).length} / ${sites.length}` : '…',
          detail: sites?.length === 0 ? 'none added' : undefined,
        }}
        second={{
          testId: 'count-vpn',
          label: 'VPN clients online',
          value: vpn ? `${vpn.filter((c) => isOnline(c)).length} / ${usable(vpn).length}` : '…',
          detail: vpnDetail(vpn),
        }}
      >
        <SiteLatencies sites={sites} />
      </PairCard>
      <Card
        testId="count-links"
        label="Link clients"
        value={String(links.reduce((n, l) => n + l.ips.length, 0))}
        detail={`${links.length} active link${links.length === 1 ? '' : 's'}`}
      />
      <Card
        testId="count-certs"
        label="Certificates"
        value={status ? String(status.certificates.count) : '…'}
        detail={
          next
            ? `next expiry in ${daysLeft} days (${next.names[0] ?? ''})` +
              (issuing.length ? `; ${issuing.length} being issued` : '') +
              (failed.length ? `; ${failed.length} failed` : '')
            : 'none expiring'
        }
      />
    </div>
  );
}
