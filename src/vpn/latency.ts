import { execFile } from 'node:child_process';
import type { TunnelSection } from '../compile/edge-config.js';
import type { Logger } from '../observe/log.js';
import { ONLINE_S, type PeerFigures, type TunnelReport } from './stats.js';

/** How often a WireGuard server probes its sites and reads its peers' figures. */
export const PROBE_INTERVAL_MS = 5000;

/** A site a server probes: its tunnel address (and public key, for its handshake). */
export interface ProbeTarget {
  address: string;
  publicKey: string;
}

/** The sites of a tunnel section (VPN clients, which carry their policy's targets, are not probed). */
export function siteTargets(section: TunnelSection | undefined): ProbeTarget[] {
  return (section?.peers ?? [])
    .filter((p) => p.targets === undefined)
    .map((p) => ({ address: p.address, publicKey: p.publicKey }));
}

/** `ping`'s summary line: `time=0.412 ms` (iputils). */
const TIME_RE = /time[=<]([0-9.]+)\s*ms/;

/** The round trip of one answered `ping`, in ms; undefined: no answer. */
export function parsePing(stdout: string): number | undefined {
  const m = TIME_RE.exec(stdout);
  if (!m?.[1]) return undefined;
  const ms = Number(m[1]);
  return Number.isFinite(ms) ? ms : undefined;
}

/** `wg show IFACE dump` → each peer's figures by public key (the first line is the interface's). */
export function parseWgDump(stdout: string): Map<string, PeerFigures> {
  const out = new Map<string, PeerFigures>();
  for (const line of stdout.split('\n').slice(1)) {
    const f = line.split('\t');
    if (f.length < 7 || !f[0]) continue;
    const [handshake, rx, tx] = [Number(f[4]), Number(f[5]), Number(f[6])];
    if (![handshake, rx, tx].every((n) => Number.isInteger(n) && n >= 0)) continue;
    out.set(f[0], { handshake, rx, tx });
  }
  return out;
}

/** One ICMP echo through the tunnel (`ping -c1 -W1`); 'missing' when there is no ping here. */
export function ping(address: string): Promise<number | undefined | 'missing'> {
  return new Promise((resolve) => {
    execFile('ping', ['-n', '-c1', '-W1', address], { timeout: 3000 }, (err, stdout) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') return resolve('missing');
      resolve(parsePing(String(stdout)));
    });
  });
}

export interface TunnelProberOptions {
  /** The sites to probe now (VPN clients are not probed: their figures come from `wg show`). */
  targets: () => ProbeTarget[];
  /** The server's peers (`wg show dump`); empty while its interface is down. */
  peers: () => Promise<Map<string, PeerFigures>>;
  /** Each round's report. */
  report: (r: TunnelReport) => void;
  log: Logger;
  intervalMs?: number;
  /** Tests: the probe itself. */
  ping?: (address: string) => Promise<number | undefined | 'missing'>;
  now?: () => number;
}

/**
 * A WireGuard server's probe: every 5 s one ping to each site's tunnel address (the site's
 * connector answers on its interface) and its peers' handshakes and bytes. A site is up while it
 * answered one of its last two probes, so one lost datagram does not make a down and up; without
 * `ping` on the machine, while its handshake is recent.
 */
export class TunnelProber {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly misses = new Map<string, number>();
  private readonly lastMs = new Map<string, number>();
  private warned = false;

  constructor(private readonly o: TunnelProberOptions) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.round(), this.o.intervalMs ?? PROBE_INTERVAL_MS);
    this.timer.unref();
    void this.round();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One round: probes and figures, then the report (a round still under way is not doubled). */
  async round(): Promise<TunnelReport | undefined> {
    if (this.running) return undefined;
    this.running = true;
    try {
      const targets = this.o.targets();
      const [peers, results] = await Promise.all([
        this.o.peers().catch(() => new Map<string, PeerFigures>()),
        Promise.all(targets.map((t) => (this.o.ping ?? ping)(t.address))),
      ]);
      const now = (this.o.now ?? Date.now)() / 1000;
      const probes: TunnelReport['probes'] = targets.map((t, i) => {
        const r = results[i];
        if (r === 'missing') {
          if (!this.warned) this.o.log.warn('tunnel: no `ping` here (iputils-ping): no latency figures');
          this.warned = true;
          const hs = peers.get(t.publicKey)?.handshake ?? 0;
          return { address: t.address, ms: null, up: hs > 0 && now - hs < ONLINE_S };
        }
        if (r !== undefined) {
          this.misses.set(t.address, 0);
          this.lastMs.set(t.address, Math.round(r * 100) / 100);
        } else this.misses.set(t.address, (this.misses.get(t.address) ?? 2) + 1);
        const up = (this.misses.get(t.address) ?? 2) < 2;
        return { address: t.address, ms: up ? (this.lastMs.get(t.address) ?? null) : null, up };
      });
      const wanted = new Set(targets.map((t) => t.address));
      for (const a of this.misses.keys()) if (!wanted.has(a)) this.misses.delete(a);
      const report: TunnelReport = {
        peers: [...peers].map(([public_key, f]) => ({ public_key, ...f })),
        probes,
      };
      this.o.report(report);
      return report;
    } finally {
      this.running = false;
    }
  }
}
