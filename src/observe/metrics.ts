import { Counter, Gauge, Registry } from 'prom-client';

/**
 * Prometheus metrics, served at /metrics on the management API. Gauges that describe state
 * (certificates, edge) are filled at scrape time from their sources, so they are never stale.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly certExpiry = new Gauge({
    name: 'gatehouse_certificate_expiry_timestamp_seconds',
    help: 'When each certificate expires (Unix time)',
    labelNames: ['id', 'names'],
    registers: [this.registry],
  });
  readonly orderFailures = new Counter({
    name: 'gatehouse_certificate_order_failures_total',
    help: 'Certificate orders that failed',
    labelNames: ['names'],
    registers: [this.registry],
  });
  readonly securityEvents = new Gauge({
    name: 'gatehouse_security_events',
    help: 'Security events since start, by kind',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly appliedVersion = new Gauge({
    name: 'gatehouse_applied_version',
    help: 'Registry version live on the proxy',
    registers: [this.registry],
  });
  readonly upstreamUp = new Gauge({
    name: 'gatehouse_upstream_up',
    help: 'Upstream servers under active health checks: 1 answering, 0 down (node "local": this machine)',
    labelNames: ['node', 'pool', 'server'],
    registers: [this.registry],
  });
  readonly upstreamErrors = new Gauge({
    name: 'gatehouse_upstream_recent_errors',
    help: 'Upstream servers nginx could not get an answer from (refused, broken off, timed out): failed attempts in the last minute, any pool (node "local")',
    labelNames: ['node', 'pool', 'server'],
    registers: [this.registry],
  });
  readonly nodeUp = new Gauge({
    name: 'gatehouse_node_up',
    help: 'Edge nodes: 1 while the node keeps in touch with the control plane (its link), else 0',
    labelNames: ['node', 'role'],
    registers: [this.registry],
  });
  readonly nodeLastSeen = new Gauge({
    name: 'gatehouse_node_last_seen_timestamp_seconds',
    help: 'When each edge node last reached the control plane (Unix time)',
    labelNames: ['node'],
    registers: [this.registry],
  });
  readonly nodeInSync = new Gauge({
    name: 'gatehouse_node_config_in_sync',
    help: 'Edge nodes: 1 when the node applied the current config, else 0',
    labelNames: ['node'],
    registers: [this.registry],
  });
  readonly tunnelUp = new Gauge({
    name: 'gatehouse_tunnel_up',
    help: 'Site tunnels: 1 while the site answers the probes of the edge (every 5 s; edge "local": this control plane), else 0',
    labelNames: ['site', 'edge'],
    registers: [this.registry],
  });
  readonly tunnelLatency = new Gauge({
    name: 'gatehouse_tunnel_latency_seconds',
    help: 'Site tunnels: round trip of the latest answered probe from the edge to the site',
    labelNames: ['site', 'edge'],
    registers: [this.registry],
  });
  readonly tunnelHandshakeAge = new Gauge({
    name: 'gatehouse_tunnel_handshake_age_seconds',
    help: 'Seconds since the newest WireGuard handshake of a site or VPN client with the edge',
    labelNames: ['site', 'client', 'edge'],
    registers: [this.registry],
  });
  readonly tunnelBytes = new Counter({
    name: 'gatehouse_tunnel_bytes_total',
    help: 'Bytes through the tunnel of a site or VPN client as the edge counts them (direction rx: from the peer)',
    labelNames: ['direction', 'site', 'client', 'edge'],
    registers: [this.registry],
  });
  readonly vpnClientsOnline = new Gauge({
    name: 'gatehouse_vpn_clients_online',
    help: 'VPN clients with a handshake in the last 3 minutes',
    registers: [this.registry],
  });

  /** Sources read at scrape time. */
  private collectors: (() => Promise<void> | void)[] = [];

  onScrape(fn: () => Promise<void> | void): void {
    this.collectors.push(fn);
  }

  async text(): Promise<string> {
    for (const c of this.collectors) await c();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
