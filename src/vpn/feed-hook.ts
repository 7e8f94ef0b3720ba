import { join } from 'node:path';
import type { TunnelSection } from '../compile/edge-config.js';
import { GatehouseError } from '../model/errors.js';
import type { Service } from '../model/service.js';
import type { Settings } from '../model/settings.js';
import type { Logger } from '../observe/log.js';
import type { Db } from '../store/db.js';
import { EdgeTunnel } from './edge-tunnel.js';
import { VpnClientStore } from './clients.js';
import { siteTargets, TunnelProber } from './latency.js';
import { LOCAL_EDGE_NAME, TunnelStats } from './stats.js';
import { TunnelWatch, type TunnelEvent } from './stats-watch.js';
import { LOCAL_EDGE, SiteStore } from './store.js';

/** What the hook needs of the edge feed (its long-polls wake on `signal`). */
interface TunnelFeed {
  setTunnel(fn: (role: string) => Promise<TunnelSection | undefined>): void;
  signal(): void;
}

/** Messages among control-plane replicas (registry/replication.ts), when there are several. */
interface Replicas {
  topic(
    name: string,
    handlers: { message: (payload: string) => void; reconnected?: () => void },
  ): (payload: string) => void;
}

/**
 * The control plane's sites, wired to the edge feed: public edges get the connected sites as their
 * `tunnel` section, and their long-polls wake (on every replica) when a site is removed or sends its key. With
 * `vpn_port`, the control plane's own edge is a WireGuard server of the sites too.
 */
export function sitesForFeed(
  db: Db,
  settings: Settings,
  feed: TunnelFeed,
  log: Logger,
  replicas?: Replicas,
  services: () => Service[] = () => [],
  event: (e: TunnelEvent) => void = () => undefined,
): { sites: SiteStore; clients: VpnClientStore; tunnels: TunnelStats; stop: () => Promise<void> } {
  const sites = new SiteStore(db, settings.vpn_range);
  // The clients' handshakes and bytes, as every WireGuard server reports them (vpn/stats.ts).
  const tunnels = new TunnelStats();
  const clients = new VpnClientStore(db, sites, services, async () => tunnels.peerStats());
  const watch = new TunnelWatch({
    stats: tunnels,
    sites: () => sites.list(),
    clients: () => clients.list(),
    event,
    log: log.child({ part: 'tunnel' }),
  });
  watch.start();
  feed.setTunnel(async (role) => (role === 'public' ? sites.tunnel() : undefined));
  // Edges following another replica hear of a change made here through that replica.
  const announce = replicas?.topic('sites', {
    message: () => sites.reload(),
    reconnected: () => sites.reload(),
  });
  sites.onChange((local) => {
    feed.signal();
    if (local) announce?.('changed');
  });
  const stopStores = () => {
    watch.stop();
    clients.stop();
  };
  const port = settings.vpn_port;
  if (!port) return { sites, clients, tunnels, stop: async () => stopStores() };
  const endpoint =
    settings.vpn_endpoint ?? (settings.base_domain ? `${settings.base_domain}:${port}` : undefined);
  if (!endpoint)
    throw new GatehouseError(
      'invalid',
      'vpn_endpoint: set the HOST:PORT sites dial to reach vpn_port (or set base_domain)',
      400,
      [{ field: 'vpn_endpoint', message: 'required with vpn_port' }],
    );
  const server = new EdgeTunnel({
    dir: join(settings.data_dir, 'vpn'),
    iface: settings.vpn_interface,
    port,
    register: (publicKey) => sites.registerEdge(LOCAL_EDGE, { public_key: publicKey, endpoint, port }, ''),
    log: log.child({ part: 'tunnel' }),
  });
  // This server's own probe: latency to each site and its peers' figures, as edge "local".
  let section: TunnelSection | undefined;
  const prober = new TunnelProber({
    targets: () => siteTargets(section),
    peers: () => server.peerStats(),
    report: (r) => tunnels.take(LOCAL_EDGE_NAME, r),
    log: log.child({ part: 'tunnel' }),
  });
  prober.start();
  const apply = () =>
    void sites.tunnel().then(
      (t) => {
        section = t.peers.length ? t : undefined;
        server.set(section);
      },
      (err: unknown) => log.warn({ err: String(err) }, 'tunnel: sites not read'),
    );
  sites.onChange(apply);
  apply();
  return {
    sites,
    clients,
    tunnels,
    stop: async () => {
      stopStores();
      prober.stop();
      await server.stop();
    },
  };
}
