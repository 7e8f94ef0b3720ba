import { z } from 'zod';

/**
 * Tunnel figures as every WireGuard server reports them: the control plane's own (vpn_port, edge
 * "local") and each public edge agent's (in its status report, `tunnel`). Per edge: each peer's
 * newest handshake and bytes (`wg show dump`), and each site's probe (latency, answered or not).
 * Kept in memory (the latest report per edge), read by `site ls`, `vpn client ls`, /metrics and
 * the web UI; tunnel up/down are told on transitions only.
 */

/** At most this many peers / probes in one report (sites and clients are operator-made). */
const MAX_PEERS = 10_000;

export const tunnelReportSchema = z.strictObject({
  /** `wg show dump` of its interface: by public key. */
  peers: z
    .array(
      z.strictObject({
        public_key: z.string().max(64),
        /** Unix seconds; 0: none yet. */
        handshake: z.number().int().min(0),
        rx: z.number().int().min(0),
        tx: z.number().int().min(0),
      }),
    )
    .max(MAX_PEERS)
    .default([]),
  /** Each site's probe through the tunnel, by the site's tunnel address. */
  probes: z
    .array(
      z.strictObject({
        address: z.string().max(45),
        /** Round trip of the latest answered probe (ms); null: none answered lately. */
        ms: z.number().min(0).max(60_000).nullable(),
        /** The site answered one of its last two probes (or, without probes, a recent handshake). */
        up: z.boolean(),
      }),
    )
    .max(MAX_PEERS)
    .default([]),
});
export type TunnelReport = z.output<typeof tunnelReportSchema>;

/** A report older than this (the edge stopped reporting) counts as the tunnel down through it. */
export const REPORT_STALE_MS = 20_000;

/** An edge silent this long (removed, or gone for good) is forgotten: its sites no longer list it. */
export const REPORT_FORGET_MS = 5 * 60_000;

/** The control plane's own WireGuard server, as an edge name. */
export const LOCAL_EDGE_NAME = 'local';

/** A handshake this recent means a peer is online (WireGuard renews one every 2 minutes in use). */
export const ONLINE_S = 180;

export interface PeerFigures {
  handshake: number;
  rx: number;
  tx: number;
}

/** A site as seen through one edge. */
export interface SiteEdgeStatus {
  edge: string;
  up: boolean;
  latency_ms: number | null;
  last_handshake: string | null;
  rx_bytes: number;
  tx_bytes: number;
}

/** A site's tunnel, all edges together (the best edge's latency, the newest handshake, bytes summed). */
export interface SiteTunnelStatus {
  up: boolean;
  latency_ms: number | null;
  handshake_age_s: number | null;
  rx_bytes: number;
  tx_bytes: number;
  edges: SiteEdgeStatus[];
}

interface EdgeEntry {
  at: number;
  peers: Map<string, PeerFigures>;
  probes: Map<string, { ms: number | null; up: boolean }>;
}

/** What a tunnel transition is told with. */
export interface TunnelTransition {
  site: string;
  edge: string;
  up: boolean;
  latency_ms: number | null;
}

/** A site as the store knows it: name, tunnel address, public key. */
export interface SiteRef {
  name: string;
  address: string;
  public_key: string;
}

export class TunnelStats {
  private readonly edges = new Map<string, EdgeEntry>();
  /** Last known state per `site edge` (for transitions). */
  private readonly states = new Map<string, boolean>();
  private readonly listeners = new Set<(t: TunnelTransition) => void>();
  private readonly reportListeners = new Set<(edge: string) => void>();

  constructor(private readonly now: () => number = Date.now) {}

  /** An edge's report (the latest replaces the one before). */
  take(edge: string, report: TunnelReport): void {
    this.edges.set(edge, {
      at: this.now(),
      peers: new Map(report.peers.map((p) => [p.public_key, { handshake: p.handshake, rx: p.rx, tx: p.tx }])),
      probes: new Map(report.probes.map((p) => [p.address, { ms: p.ms, up: p.up }])),
    });
    for (const fn of this.reportListeners) fn(edge);
  }

  /** Told after each report taken (a transition in it is then told at once, not at the next look). */
  onReport(fn: (edge: string) => void): () => void {
    this.reportListeners.add(fn);
    return () => this.reportListeners.delete(fn);
  }

  /** An edge gone (removed, or its tunnel stopped): its figures go. */
  forget(edge: string): void {
    this.edges.delete(edge);
  }

  onTransition(fn: (t: TunnelTransition) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private fresh(): [string, EdgeEntry][] {
    const now = this.now();
    return [...this.edges].filter(([, e]) => now - e.at < REPORT_STALE_MS);
  }

  /** Each peer's figures over every edge: the newest handshake, bytes summed (a client of two servers). */
  peerStats(): Map<string, PeerFigures> {
    const out = new Map<string, PeerFigures>();
    for (const [, e] of this.fresh())
      for (const [key, f] of e.peers) {
        const o = out.get(key);
        out.set(
          key,
          o ? { handshake: Math.max(o.handshake, f.handshake), rx: o.rx + f.rx, tx: o.tx + f.tx } : { ...f },
        );
      }
    return out;
  }

  /** One site through every edge that reported on it. */
  site(s: SiteRef): SiteTunnelStatus {
    const now = this.now();
    for (const [name, e] of this.edges) if (now - e.at >= REPORT_FORGET_MS) this.edges.delete(name);
    const edges: SiteEdgeStatus[] = [];
    for (const [name, e] of [...this.edges].sort(([a], [b]) => a.localeCompare(b))) {
      const p = e.probes.get(s.address);
      const f = s.public_key ? e.peers.get(s.public_key) : undefined;
      if (!p && !f) continue;
      const stale = now - e.at >= REPORT_STALE_MS;
      edges.push({
        edge: name,
        up: !stale && (p ? p.up : !!f && f.handshake > 0 && now / 1000 - f.handshake < ONLINE_S),
        latency_ms: stale ? null : (p?.ms ?? null),
        last_handshake: f?.handshake ? new Date(f.handshake * 1000).toISOString() : null,
        rx_bytes: f?.rx ?? 0,
        tx_bytes: f?.tx ?? 0,
      });
    }
    const up = edges.filter((x) => x.up);
    const lat = up.map((x) => x.latency_ms).filter((x): x is number => x !== null);
    const hs = Math.max(0, ...edges.map((x) => (x.last_handshake ? Date.parse(x.last_handshake) : 0)));
    return {
      up: up.length > 0,
      latency_ms: lat.length ? Math.min(...lat) : null,
      handshake_age_s: hs > 0 ? Math.max(0, Math.round((now - hs) / 1000)) : null,
      rx_bytes: edges.reduce((n, x) => n + x.rx_bytes, 0),
      tx_bytes: edges.reduce((n, x) => n + x.tx_bytes, 0),
      edges,
    };
  }

  /**
   * Looks at every site through every edge and tells what changed since the last look: first up
   * (a tunnel came up), up → down, down → up. A site never seen up is not told as down.
   */
  check(sites: SiteRef[]): TunnelTransition[] {
    const out: TunnelTransition[] = [];
    const seen = new Set<string>();
    for (const s of sites)
      for (const e of this.site(s).edges) {
        const key = `${s.name} ${e.edge}`;
        seen.add(key);
        const was = this.states.get(key);
        if (was === e.up || (was === undefined && !e.up)) continue;
        this.states.set(key, e.up);
        out.push({ site: s.name, edge: e.edge, up: e.up, latency_ms: e.latency_ms });
      }
    // A site removed, or an edge that no longer reports on it: forgotten without an event.
    for (const key of this.states.keys()) if (!seen.has(key)) this.states.delete(key);
    for (const t of out) for (const fn of this.listeners) fn(t);
    return out;
  }
}
