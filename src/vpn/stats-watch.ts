import type { Logger } from '../observe/log.js';
import { PROBE_INTERVAL_MS } from './latency.js';
import { ONLINE_S, type SiteRef, type TunnelStats, type TunnelTransition } from './stats.js';

/** A tunnel event for the events log: its kind and its detail line. */
export interface TunnelEvent {
  kind: 'tunnel_up' | 'tunnel_down' | 'vpn_client_connected' | 'vpn_client_idle';
  detail: string;
}

export interface TunnelWatchOptions {
  stats: TunnelStats;
  sites: () => Promise<SiteRef[]>;
  /** VPN clients: name and public key. */
  clients: () => Promise<{ name: string; public_key: string }[]>;
  event: (e: TunnelEvent) => void;
  log: Logger;
  intervalMs?: number;
  now?: () => number;
}

/** The detail line of a site's transition: `site home via vps (1.2 ms)`. */
export function transitionDetail(t: TunnelTransition): string {
  const ms = t.up && t.latency_ms !== null ? ` (${t.latency_ms} ms)` : '';
  return `site ${t.site} via ${t.edge}${ms}`;
}

/**
 * Looks at the tunnels every 5 s (as often as the edges probe them) and tells each transition once:
 * a site's tunnel up or down through an edge, a VPN client connected (a handshake within 3 minutes)
 * or idle (none since). The first look only learns which clients are online, without events.
 */
export class TunnelWatch {
  private timer: NodeJS.Timeout | undefined;
  private online: Set<string> | undefined;
  private busy = false;
  private again = false;
  private offReport: (() => void) | undefined;

  constructor(private readonly o: TunnelWatchOptions) {}

  start(): void {
    this.timer ??= setInterval(() => void this.look(), this.o.intervalMs ?? PROBE_INTERVAL_MS);
    this.timer.unref();
    this.offReport ??= this.o.stats.onReport(() => void this.look());
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.offReport?.();
    this.offReport = undefined;
  }

  async look(): Promise<void> {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    this.again = false;
    try {
      for (const t of this.o.stats.check(await this.o.sites()))
        this.o.event({ kind: t.up ? 'tunnel_up' : 'tunnel_down', detail: transitionDetail(t) });
      const peers = this.o.stats.peerStats();
      const now = (this.o.now ?? Date.now)() / 1000;
      const online = new Set<string>();
      for (const c of await this.o.clients()) {
        const hs = peers.get(c.public_key)?.handshake ?? 0;
        if (hs > 0 && now - hs < ONLINE_S) online.add(c.name);
      }
      const before = this.online;
      this.online = online;
      if (!before) return;
      for (const n of online)
        if (!before.has(n)) this.o.event({ kind: 'vpn_client_connected', detail: `client ${n}` });
      for (const n of before)
        if (!online.has(n)) this.o.event({ kind: 'vpn_client_idle', detail: `client ${n}` });
    } catch (err) {
      this.o.log.warn({ err: String(err) }, 'tunnel: could not look at the tunnels');
    } finally {
      this.busy = false;
    }
    if (this.again) await this.look();
  }
}
