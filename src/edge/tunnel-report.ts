import { join } from 'node:path';
import type { TunnelSection } from '../compile/edge-config.js';
import type { Logger } from '../observe/log.js';
import { EdgeTunnel, registerWithControl } from '../vpn/edge-tunnel.js';
import { siteTargets, TunnelProber } from '../vpn/latency.js';
import type { TunnelReport } from '../vpn/stats.js';

export interface AgentTunnelOptions {
  tunnel: { port: number; endpoint: string; iface: string };
  dataDir: string;
  /** The control URL followed now, and the node token. */
  base: () => string;
  token: string;
  /** The tunnel section of the config held now (the sites to probe). */
  section: () => TunnelSection | undefined;
  /** Each probe round's figures (sent with the agent's next status report). */
  report: (r: TunnelReport) => void;
  log: Logger;
}

/**
 * A public edge agent's tunnel (`--tunnel-port`): the WireGuard server of the control plane's
 * sites, and its probe (every 5 s: latency to each site, its peers' handshakes and bytes) whose
 * figures go to the control plane in the agent's status reports (`tunnel`), so `site ls`,
 * `vpn client ls` and /metrics show sites and clients of remote edges too.
 */
export function agentTunnel(o: AgentTunnelOptions): { tunnel: EdgeTunnel; prober: TunnelProber } {
  const log = o.log.child({ part: 'tunnel' });
  const tunnel = new EdgeTunnel({
    ...o.tunnel,
    dir: join(o.dataDir, 'vpn'),
    register: registerWithControl(o.base, o.token, o.tunnel.endpoint, o.tunnel.port),
    log,
  });
  const prober = new TunnelProber({
    targets: () => siteTargets(o.section()),
    peers: () => tunnel.peerStats(),
    report: o.report,
    log,
  });
  return { tunnel, prober };
}
