import { execFile } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../observe/log.js';
import { writeFileAtomic } from '../store/files.js';
import { loadOrCreateKeys, type WgKeyPair } from './keys.js';
import { HubChooser, probeEdge } from './site-hub-monitor.js';
import { WgLink } from './wg.js';
import { prefixOf, siteWgSpec, type SiteTunnelConfig } from './wg-config.js';

const run = promisify(execFile);

export interface SiteConnectorOptions {
  /** The control plane's URL and this site's token (from `gatehouse site add`). */
  control: string;
  token: string;
  name: string;
  /** Its private key, and the last config (served from here while the control plane is away). */
  dir: string;
  iface: string;
  log: Logger;
  /** How often it asks the control plane for the public edges (and reports its handshake). */
  syncMs?: number;
  /** How often a probe crosses the tunnel (it reopens the NAT mapping at once after an outage). */
  probeMs?: number;
  /** Site-to-site: how often each edge is probed for the hub choice (site-hub-monitor.ts). */
  monitorMs?: number;
}

/** The discard port: a probe is one empty datagram the edge drops. */
const PROBE_PORT = 9;

/**
 * A site's connector (`gatehouse site connect`): the WireGuard client behind NAT. It makes its key
 * here (only the public key is sent), asks the control plane for the public edges, dials each with
 * PersistentKeepalive 25, and forwards what arrives through the tunnel to the announced subnets
 * (masqueraded, so LAN hosts need no route back). A probe every second keeps the tunnel in use: when
 * a cut link comes back, the first probe reopens the NAT mapping and the edge learns the new
 * endpoint, without a restart.
 */
export class SiteConnector {
  private readonly link: WgLink;
  private keys: WgKeyPair | undefined;
  private config: SiteTunnelConfig | undefined;
  private appliedHash = '';
  private stopped = false;
  private wake: (() => void) | undefined;
  private probe: Socket | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private monitorTimer: NodeJS.Timeout | undefined;
  private monitoring = false;
  private readonly hubs = new HubChooser();
  /** Changes to the interface, one at a time (a config from the sync, a hub from the monitor). */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly o: SiteConnectorOptions) {
    this.link = new WgLink({ name: o.iface, dir: o.dir, log: o.log });
  }

  private get cacheFile(): string {
    return join(this.o.dir, 'site.json');
  }

  async run(): Promise<void> {
    this.keys = await loadOrCreateKeys(this.o.dir);
    const cached = await readFile(this.cacheFile, 'utf8').catch(() => undefined);
    if (cached) await this.apply(JSON.parse(cached) as SiteTunnelConfig).catch(() => undefined);
    this.probe = createSocket('udp4');
    this.probe.on('error', () => undefined);
    this.probeTimer = setInterval(() => this.sendProbes(), this.o.probeMs ?? 1000);
    this.monitorTimer = setInterval(() => void this.monitor(), this.o.monitorMs ?? 1000);
    let lastError = '';
    while (!this.stopped) {
      try {
        const cfg = await this.sync();
        await this.apply(cfg);
        if (lastError) this.o.log.info('site: the control plane answers again');
        lastError = '';
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        if (msg !== lastError)
          this.o.log.warn({ err: msg }, 'site: sync failed; the tunnel keeps its last config');
        lastError = msg;
        if (/refused this site token/.test(msg)) throw err;
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, this.o.syncMs ?? 5000);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }

  /** Reports its key and handshake; the answer names the public edges to dial. */
  private async sync(): Promise<SiteTunnelConfig> {
    const hs = this.link.running
      ? await this.link.handshakes().catch(() => new Map<string, number>())
      : new Map();
    const res = await fetch(`${this.o.control.replace(/\/$/, '')}/edge/v1/site/sync`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.o.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        public_key: this.keys?.publicKey,
        last_handshake: Math.max(0, ...hs.values()),
      }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (res.status === 401) throw new Error('the control plane refused this site token');
    if (!res.ok) throw new Error(`the control plane answered ${res.status}: ${text.slice(0, 300)}`);
    const cfg = JSON.parse(text) as SiteTunnelConfig;
    if (cfg.site !== this.o.name)
      throw new Error(`this token belongs to site ${cfg.site}, not ${this.o.name}: check the command`);
    return cfg;
  }

  private serial(fn: () => Promise<void>): Promise<void> {
    const next = this.queue.then(fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private apply(cfg: SiteTunnelConfig): Promise<void> {
    return this.serial(() => this.applyNow(cfg));
  }

  /** The hub for a config: none without site-to-site (no other sites' subnets to route). */
  private hubFor(cfg: SiteTunnelConfig): string | undefined {
    this.hubs.setOrder(cfg.edges.map((e) => e.node));
    return (cfg.remote ?? []).length ? this.hubs.active : undefined;
  }

  private async applyNow(cfg: SiteTunnelConfig): Promise<void> {
    if (!this.keys) return;
    const restarted = !this.link.running;
    if (!restarted && cfg.hash === this.appliedHash) return;
    await this.link.up();
    const hub = this.hubFor(cfg);
    await this.link.sync(siteWgSpec(this.keys.privateKey, cfg, hub));
    await this.link.address(`${cfg.address}/${prefixOf(cfg.range)}`);
    // Site-to-site: the other sites' subnets into the tunnel (WireGuard picks the hub's peer).
    await this.link.routes(cfg.remote ?? []);
    await this.forward(cfg);
    this.config = cfg;
    this.appliedHash = cfg.hash;
    await writeFileAtomic(this.cacheFile, JSON.stringify(cfg), 0o600);
    this.o.log.info(
      {
        iface: this.o.iface,
        address: cfg.address,
        edges: cfg.edges.map((e) => `${e.node} ${e.endpoint}`),
        ...(hub ? { hub, remote: cfg.remote } : {}),
      },
      'site: tunnel configured',
    );
  }

  /**
   * Site-to-site's monitor: each edge probed through the tunnel; when the hub stops answering, the
   * other sites' subnets move to the next edge that answers, and back when the primary is healthy
   * again (HubChooser's rules).
   */
  private async monitor(): Promise<void> {
    const cfg = this.config;
    if (this.monitoring || !cfg || !this.keys || !(cfg.remote ?? []).length || !this.link.running) return;
    this.monitoring = true;
    try {
      const timeout = Math.max(200, (this.o.monitorMs ?? 1000) - 100);
      const results = await Promise.all(cfg.edges.map((e) => probeEdge(e.address, timeout)));
      cfg.edges.forEach((e, i) => this.hubs.record(e.node, results[i] ?? false));
      const before = this.hubs.active;
      const hub = this.hubs.choose();
      if (hub === before || this.config !== cfg) return;
      const keys = this.keys;
      await this.serial(() => this.link.sync(siteWgSpec(keys.privateKey, cfg, hub)));
      this.o.log.warn(
        { from: before, to: hub, remote: cfg.remote },
        `site: hub switched from ${before ?? '-'} to ${hub ?? '-'}`,
      );
    } catch (err) {
      this.o.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'site: hub switch failed');
    } finally {
      this.monitoring = false;
    }
  }

  private get table(): string {
    return `gatehouse_site_${this.o.iface.replace(/[^A-Za-z0-9_]/g, '_')}`;
  }

  /**
   * Traffic from the public edges may go to the announced subnets only, masqueraded as this machine
   * (nftables); nothing else arriving through the tunnel is forwarded. With site-to-site, traffic
   * from the other opted-in sites' subnets is let in too, and the LAN may send to them.
   */
  private async forward(cfg: SiteTunnelConfig): Promise<void> {
    await run('nft', ['delete', 'table', 'ip', this.table], { timeout: 10_000 }).catch(() => undefined);
    if (cfg.subnets.length === 0) return;
    await writeFile('/proc/sys/net/ipv4/ip_forward', '1\n');
    const iface = JSON.stringify(this.o.iface);
    const peers = [cfg.range, ...(cfg.remote ?? [])].join(', ');
    const rules = [
      `table ip ${this.table} {`,
      `  chain forward {`,
      `    type filter hook forward priority 0; policy accept;`,
      `    iifname ${iface} ip daddr != { ${cfg.subnets.join(', ')} } drop`,
      // From the edges (the range) and, with site-to-site, from the other sites' subnets only.
      `    iifname ${iface} ip saddr != { ${peers} } drop`,
      `    oifname ${iface} ip daddr != { ${peers} } drop`,
      `  }`,
      `  chain postrouting {`,
      `    type nat hook postrouting priority 100; policy accept;`,
      `    iifname ${iface} oifname != ${iface} masquerade`,
      `  }`,
      `}`,
    ].join('\n');
    const file = join(this.o.dir, 'nft.conf');
    await writeFileAtomic(file, `${rules}\n`, 0o600);
    await run('nft', ['-f', file], { timeout: 10_000 });
  }

  /** One empty datagram to each edge's tunnel address: traffic that keeps the tunnel (and NAT) open. */
  private sendProbes(): void {
    for (const e of this.config?.edges ?? []) this.probe?.send(Buffer.alloc(0), PROBE_PORT, e.address);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    if (this.probeTimer) clearInterval(this.probeTimer);
    if (this.monitorTimer) clearInterval(this.monitorTimer);
    this.probe?.close();
    await run('nft', ['delete', 'table', 'ip', this.table], { timeout: 10_000 }).catch(() => undefined);
    await this.link.down();
  }
}
