import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { EdgeConfig, Pool } from '../compile/edge-config.js';
import type { Logger } from '../observe/log.js';

/**
 * Active health checks for pools that ask for them (nginx's open-source build has passive checks
 * only). A server that fails is marked down in the config until it answers again; a change in the
 * set of down servers calls `onChange`.
 */
export class HealthChecker {
  private timers: NodeJS.Timeout[] = [];
  private readonly downSet = new Set<string>();
  /** Pools with a check in flight: a slow probe must not land after a newer one and undo it. */
  private readonly inFlight = new Set<string>();
  private key = '';
  private pools: readonly Pool[] | undefined;

  constructor(
    private readonly onChange: () => void,
    private readonly log: Logger,
  ) {}

  get down(): ReadonlySet<string> {
    return this.downSet;
  }

  /** Every server under checks, as `pool address`. */
  private checkedKeys: string[] = [];
  get checked(): readonly string[] {
    return this.checkedKeys;
  }

  /** Starts checking the pools of a newly applied config (no-op when they did not change). */
  update(cfg: EdgeConfig): void {
    // The compiler hands out the same pool list while no pool changed: nothing to look at.
    if (cfg.pools === this.pools) return;
    this.pools = cfg.pools;
    const pools = cfg.pools.filter((p) => p.health);
    const key = JSON.stringify(pools);
    if (key === this.key) return;
    this.key = key;
    this.stop();
    const live = new Set(pools.flatMap((p) => p.servers.map((s) => `${p.id} ${s}`)));
    this.checkedKeys = [...live].sort();
    let changed = false;
    for (const k of [...this.downSet]) if (!live.has(k)) changed = this.downSet.delete(k) || changed;
    for (const pool of pools) {
      const t = setInterval(() => void this.checkPool(pool), pool.health?.intervalMs ?? 10_000);
      t.unref();
      this.timers.push(t);
      void this.checkPool(pool);
    }
    if (changed) this.onChange();
  }

  private async checkPool(pool: Pool): Promise<void> {
    const h = pool.health;
    if (!h || this.inFlight.has(pool.id)) return;
    const key = this.key;
    this.inFlight.add(pool.id);
    const results = await Promise.all(pool.servers.map((s) => probe(pool.scheme, s, h.path, h.timeoutMs)));
    this.inFlight.delete(pool.id);
    // Probes of a config that has since been replaced say nothing about the new one.
    if (key !== this.key || this.timers.length === 0) return;
    let changed = false;
    pool.servers.forEach((server, i) => {
      const k = `${pool.id} ${server}`;
      const ok = results[i];
      if (ok && this.downSet.delete(k)) {
        changed = true;
        this.log.info({ pool: pool.id, server }, 'upstream healthy again');
      } else if (!ok && !this.downSet.has(k)) {
        this.downSet.add(k);
        changed = true;
        this.log.warn({ pool: pool.id, server }, 'upstream failed its health check');
      }
    });
    if (changed) this.onChange();
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }
}

/**
 * One health probe: GET `path` on `server` (`IP:port`, `[v6]:port`); healthy when it answers below
 * 400 within the timeout. Certificates are not checked (backends are addressed by IP). Also used by
 * `gatehouse agent` for the service it keeps registered.
 */
export function probe(
  scheme: 'http' | 'https',
  server: string,
  path: string,
  timeoutMs: number,
): Promise<boolean> {
  const m = /^\[?([^\]]+?)\]?:([0-9]+)$/.exec(server);
  const request = scheme === 'https' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = request(
      {
        host: m?.[1],
        port: Number(m?.[2]),
        path,
        method: 'GET',
        timeout: timeoutMs,
        rejectUnauthorized: false,
        agent: false,
      },
      (res) => {
        res.resume();
        resolve((res.statusCode ?? 500) < 400);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}
