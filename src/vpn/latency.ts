import { connect } from 'node:net';
import type { TunnelSection } from '../compile/edge-config.js';
import type { Logger } from '../observe/log.js';
import { type PeerFigures, type TunnelReport } from './stats.js';

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

/**
 * The port a probe knocks on: TCP discard, closed on a site's connector, so its kernel answers the
 * SYN with a reset at once (an open port answers too; either way the round trip is measured).
 */
export const PROBE_PORT = 9;

/**
 * One probe through the tunnel: a TCP connection attempt to the site's tunnel address. The
 * reset (or the accept) is the answer; nothing within `timeoutMs` is none. No `ping` binary, no raw
 * socket, no process per probe; it works with userspace WireGuard in any namespace.
 */
export function probe(address: string, timeoutMs = 1000, port = PROBE_PORT): Promise<number | undefined> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const sock = connect({ host: address, port });
    const done = (answered: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(answered ? performance.now() - t0 : undefined);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('connect', () => done(true));
    sock.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED'));
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
  probe?: (address: string) => Promise<number | undefined>;
}

/**
 * A WireGuard server's probe: every 5 s one probe to each site's tunnel address (the site's
 * connector answers on its interface) and its peers' handshakes and bytes. A site is up while it
 * answered one of its last two probes, so one lost packet does not make a down and an up.
 */
export class TunnelProber {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly misses = new Map<string, number>();
  private readonly lastMs = new Map<string, number>();

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
        Promise.all(targets.map((t) => (this.o.probe ?? probe)(t.address))),
      ]);
      const probes: TunnelReport['probes'] = targets.map((t, i) => {
        const r = results[i];
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
