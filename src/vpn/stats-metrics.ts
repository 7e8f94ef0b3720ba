import type { Metrics } from '../observe/metrics.js';
import type { VpnClientStore } from './clients.js';
import { ONLINE_S, type TunnelStats } from './stats.js';
import type { SiteStore } from './store.js';

/**
 * The tunnel series, filled at scrape time from the edges' latest reports: per site and edge its
 * state, latency, handshake age and bytes; per VPN client its handshake age and bytes; the clients
 * online. Labels are names operators gave (sites, clients, nodes): their number stays theirs.
 */
export async function fillTunnelMetrics(
  m: Metrics,
  d: { tunnels: TunnelStats; sites: SiteStore; clients: VpnClientStore },
): Promise<void> {
  const now = Date.now();
  const [sites, clients] = await Promise.all([d.sites.list(), d.clients.list()]);
  for (const g of [m.tunnelUp, m.tunnelLatency, m.tunnelHandshakeAge, m.tunnelBytes, m.vpnClientsOnline])
    g.reset();
  const age = (iso: string | null) => (iso ? Math.max(0, (now - Date.parse(iso)) / 1000) : undefined);
  for (const s of sites)
    for (const e of d.tunnels.site(s).edges) {
      const l = { site: s.name, edge: e.edge };
      m.tunnelUp.set(l, e.up ? 1 : 0);
      if (e.latency_ms !== null) m.tunnelLatency.set(l, e.latency_ms / 1000);
      const a = age(e.last_handshake);
      if (a !== undefined) m.tunnelHandshakeAge.set(l, a);
      m.tunnelBytes.inc({ ...l, direction: 'rx' }, e.rx_bytes);
      m.tunnelBytes.inc({ ...l, direction: 'tx' }, e.tx_bytes);
    }
  let online = 0;
  for (const c of clients) {
    const a = age(c.last_handshake);
    if (a !== undefined) m.tunnelHandshakeAge.set({ client: c.name }, a);
    if (a !== undefined && a < ONLINE_S) online += 1;
    m.tunnelBytes.inc({ client: c.name, direction: 'rx' }, c.rx_bytes);
    m.tunnelBytes.inc({ client: c.name, direction: 'tx' }, c.tx_bytes);
  }
  m.vpnClientsOnline.set(online);
}
