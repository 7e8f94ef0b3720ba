import type { EdgeConfig } from '../compile/edge-config.js';
import type { EdgeFeed } from '../edge/feed.js';
import type { LocalEdge } from '../edge/local-edge.js';
import type { NodeStore } from '../edge/nodes.js';
import type { Gate } from '../gate/gate.js';
import type { CertStore } from '../tls/store.js';
import type { Metrics } from '../observe/metrics.js';

export interface ScrapeSources {
  certs: CertStore;
  gate: Gate;
  edge: LocalEdge;
  nodes: NodeStore;
  feed: EdgeFeed;
}

/**
 * Fills the state gauges from their sources at scrape time (so they are never stale): certificate
 * expiry, security events, what the local nginx serves (and which upstreams it could not reach), and each edge node's link, sync and
 * upstream health.
 */
export async function fillMetrics(
  metrics: Metrics,
  { certs, gate, edge, nodes, feed }: ScrapeSources,
): Promise<void> {
  metrics.certExpiry.reset();
  for (const c of await certs.list()) {
    metrics.certExpiry.set({ id: c.id, names: c.names.join(',') }, Math.floor(Date.parse(c.notAfter) / 1000));
  }
  for (const [kind, n] of gate.counts) metrics.securityEvents.set({ kind }, n);
  const status = edge.getStatus();
  metrics.appliedVersion.set(status.appliedVersion);
  metrics.upstreamUp.reset();
  const down = new Set(status.downServers);
  for (const key of status.checkedServers) {
    const [pool = '', server = ''] = key.split(' ');
    metrics.upstreamUp.set({ node: 'local', pool, server }, down.has(key) ? 0 : 1);
  }
  metrics.upstreamErrors.reset();
  for (const f of status.failingServers) {
    const [pool = '', server = ''] = f.server.split(' ');
    metrics.upstreamErrors.set({ node: 'local', pool, server }, f.errors);
  }
  metrics.nodeUp.reset();
  metrics.nodeLastSeen.reset();
  metrics.nodeInSync.reset();
  // What each role should serve, worked out once per scrape rather than once per node.
  const roles = new Map<string, Promise<[string, EdgeConfig]>>();
  const current = (role: string) => {
    let r = roles.get(role);
    if (!r) roles.set(role, (r = Promise.all([feed.currentHash(role), feed.config(role)])));
    return r;
  };
  for (const n of await nodes.list()) {
    metrics.nodeUp.set({ node: n.name, role: n.role }, n.online ? 1 : 0);
    if (n.last_seen) metrics.nodeLastSeen.set({ node: n.name }, Math.floor(Date.parse(n.last_seen) / 1000));
    const [hash, config] = await current(n.role);
    metrics.nodeInSync.set({ node: n.name }, n.applied_hash === hash ? 1 : 0);
    const nodeDown = new Set(n.down_servers);
    for (const pool of config.pools.filter((p) => p.health))
      for (const server of pool.servers)
        metrics.upstreamUp.set(
          { node: n.name, pool: pool.id, server },
          nodeDown.has(`${pool.id} ${server}`) ? 0 : 1,
        );
  }
}
