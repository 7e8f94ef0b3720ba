import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import type { EdgeConfig } from '../compile/edge-config.js';
import type { Logger } from '../observe/log.js';
import { routePool } from '../drivers/nginx/pools.js';

/** How far back failures count. */
export const FAILURE_WINDOW_MS = 60_000;

/** An upstream server nginx could not get an answer from lately (no active check needed). */
export interface UpstreamFailing {
  /** `pool address`, as in EdgeStatus.downServers. */
  server: string;
  /** Failed attempts in the last minute. */
  errors: number;
  /** The last failure's status as nginx recorded it: 502 refused/broken, 504 timed out. */
  lastStatus: string;
  lastAt: string;
}

/** Where nginx sends its failure lines: the syslog target and the tag that marks them as its own. */
export interface UpstreamLogTarget {
  address: string;
  tag: string;
}

/**
 * Passive health from nginx's own answers. nginx logs a line over syslog (UDP on loopback) only for
 * requests whose upstream attempt failed (see `upstreamFailureLog` in the driver), so a healthy
 * request costs nothing; this keeps a per-server count of the last minute's failures.
 */
export class PassiveHealth {
  private socket: Socket | undefined;
  /** A random tag per start: a stray datagram from another local process is not counted. */
  private readonly tag = `gh${randomBytes(8).toString('hex')}`;
  /** Per server, failures counted per second: [second, count] oldest first (at most a minute's worth). */
  private readonly hits = new Map<string, [number, number][]>();
  private readonly last = new Map<string, { status: string; at: number }>();
  /** Pool id → its servers; nginx's name for a route's pool → pool id; address → pools with it; host → its site's pools. */
  private servers = new Map<string, Set<string>>();
  private byRoutePool = new Map<string, string>();
  /** Pool names by `service\npath`, as of the last apply. */
  private poolNames = new Map<string, string>();
  private byAddress = new Map<string, string[]>();
  private byHost = new Map<string, Set<string>>();
  private pending: NodeJS.Timeout | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private lastKey = '';
  /** The config last learnt, and the one the indexes were made for. */
  private cfg: EdgeConfig | undefined;
  private indexed: EdgeConfig | undefined;

  constructor(
    private readonly onChange: () => void,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Listens on an ephemeral loopback port; resolves with what nginx should log to. */
  async start(): Promise<UpstreamLogTarget> {
    const socket = createSocket('udp4');
    socket.on('message', (msg, rinfo) => {
      if (rinfo.address === '127.0.0.1') this.receive(msg.toString('utf8'));
    });
    socket.on('error', (err) => this.log.warn({ err: String(err) }, 'upstream failure listener error'));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.unref();
    this.socket = socket;
    this.sweeper = setInterval(() => this.flush(), 1000);
    this.sweeper.unref();
    return { address: `127.0.0.1:${socket.address().port}`, tag: this.tag };
  }

  /**
   * Learns the pools of a newly applied config; failures of servers no longer served are dropped.
   * Its indexes are made when a failure needs them (index): at 10,000 routes an apply would
   * otherwise spend tens of ms on them while failures are rare.
   */
  update(cfg: EdgeConfig): void {
    this.cfg = cfg;
    if (this.hits.size > 0) {
      this.index();
      for (const k of [...this.hits.keys()]) {
        const sp = k.indexOf(' ');
        if (!this.servers.get(k.slice(0, sp))?.has(k.slice(sp + 1))) this.hits.delete(k);
      }
    }
    this.flush();
  }

  /** The indexes for the config last learnt, made once per config. */
  private index(): void {
    const cfg = this.cfg;
    if (!cfg || cfg === this.indexed) return;
    this.indexed = cfg;
    this.servers = new Map(cfg.pools.map((p) => [p.id, new Set(p.servers)]));
    // Each route's pool name is a SHA-256 of its path: kept from the last apply by service and path,
    // so an apply hashes only new routes (route objects are copied when routes share a pool).
    const names = new Map<string, string>();
    this.byRoutePool = new Map(
      cfg.sites.flatMap((s) =>
        s.routes.map((r) => {
          const key = `${r.service}\n${r.path}`;
          const name = this.poolNames.get(key) ?? routePool(r);
          names.set(key, name);
          return [name, r.pool];
        }),
      ),
    );
    this.poolNames = names;
    this.byAddress = new Map();
    this.byHost = new Map();
    for (const site of cfg.sites)
      for (const h of site.hosts) {
        const set = this.byHost.get(h) ?? new Set<string>();
        for (const r of site.routes) set.add(r.pool);
        this.byHost.set(h, set);
      }
    for (const p of cfg.pools)
      for (const s of p.servers) {
        const list = this.byAddress.get(s);
        if (list) list.push(p.id);
        else this.byAddress.set(s, [p.id]);
      }
  }

  /** One syslog datagram: `<PRI>TIMESTAMP TAG: host|upstream_addr|upstream_status|pool`. */
  receive(datagram: string): void {
    const at = datagram.indexOf(` ${this.tag}: `);
    if (at < 0) return;
    const fields = datagram.slice(at + this.tag.length + 3).split('|');
    const [host = '', addrs = '', statuses = '', pool = ''] = fields;
    // Several tries (", ") and internal redirects (" : ") are listed in the same order in both.
    const a = addrs.trim().split(/, | : /);
    const s = statuses.trim().split(/, | : /);
    const t = this.now();
    a.forEach((addr, i) => {
      const status = s[i] ?? '';
      if (status !== '502' && status !== '504') return;
      for (const key of this.keysFor(host, addr, pool.trim())) {
        const list = this.hits.get(key) ?? [];
        const sec = Math.floor(t / 1000);
        const lastBucket = list[list.length - 1];
        if (lastBucket && lastBucket[0] === sec) lastBucket[1]++;
        else list.push([sec, 1]);
        this.hits.set(key, list);
        this.last.set(key, { status, at: t });
      }
    });
    // Coalesce a burst into one report.
    this.pending ??= setTimeout(() => {
      this.pending = undefined;
      this.flush();
    }, 100);
  }

  private keysFor(host: string, addr: string, routePoolName: string): string[] {
    this.index();
    const pool = this.byRoutePool.get(routePoolName) ?? '';
    // The route's pool, when nginx names it ($gh_pool). "No live upstreams" names the shared
    // upstream block instead of a server: every peer was down (suspended, active checks), which
    // is not a failure of theirs, and not counted.
    const servers = this.servers.get(pool);
    if (servers) return servers.has(addr) ? [`${pool} ${addr}`] : [];
    // The host's site tells pools that share an address apart ($proxy_host is gone after the
    // offline page's internal redirect); a host no site serves (the portal, an auth provider) or
    // none matching falls back to every pool with that address.
    const pools = this.byAddress.get(addr) ?? [];
    const site = this.siteOf(host);
    const mine = site ? pools.filter((p) => site.has(p)) : [];
    return (mine.length ? mine : pools).map((p) => `${p} ${addr}`);
  }

  private siteOf(host: string): Set<string> | undefined {
    const h = host.toLowerCase();
    const exact = this.byHost.get(h);
    if (exact) return exact;
    for (let i = h.indexOf('.'); i >= 0; i = h.indexOf('.', i + 1)) {
      const wild = this.byHost.get(`*${h.slice(i)}`);
      if (wild) return wild;
    }
    return undefined;
  }

  /** Servers with failures in the window, busiest first. */
  failing(): UpstreamFailing[] {
    const since = Math.floor((this.now() - FAILURE_WINDOW_MS) / 1000);
    const out: UpstreamFailing[] = [];
    for (const [server, list] of this.hits) {
      while (list.length && (list[0] as [number, number])[0] <= since) list.shift();
      if (list.length === 0) {
        this.hits.delete(server);
        continue;
      }
      const l = this.last.get(server);
      out.push({
        server,
        errors: list.reduce((n, [, c]) => n + c, 0),
        lastStatus: l?.status ?? '',
        lastAt: new Date(l?.at ?? 0).toISOString(),
      });
    }
    return out.sort((x, y) => y.errors - x.errors || (x.server < y.server ? -1 : 1));
  }

  /** Reports a change in who is failing or how often (also when failures age out). */
  private flush(): void {
    const key = JSON.stringify(this.failing().map((f) => [f.server, f.errors]));
    if (key === this.lastKey) return;
    this.lastKey = key;
    this.onChange();
  }

  stop(): void {
    if (this.pending) clearTimeout(this.pending);
    if (this.sweeper) clearInterval(this.sweeper);
    this.pending = this.sweeper = undefined;
    this.socket?.close();
    this.socket = undefined;
  }
}
