import type { EdgeConfig, Pool, Site, SiteRoute } from '../compile/edge-config.js';

/**
 * An edge agent receives each config as JSON, so every object in it is new. The nginx driver keeps
 * what it made of a route, a pool and a site by the object (render's memos), which the control plane's
 * compile hands back unchanged for a service that did not change. This puts the previous config's
 * objects back in place of equal ones, so an edge renders only what changed too.
 *
 * Each object is compared with the previous config's object of the same name (a pool's id, a
 * route's service and path, a site's hosts) member by member: no JSON is made, so a config that
 * changed one service costs a walk of the rest, not their serialization (at 1,000 routes it was
 * ~2 ms of JSON.stringify a config on a quiet machine, and tens of ms on a busy one).
 */
export class ConfigInterner {
  private sites = new Map<string, Site>();
  private routes = new Map<string, SiteRoute>();
  private pools = new Map<string, Pool>();

  intern(cfg: EdgeConfig): EdgeConfig {
    const pools = new Map<string, Pool>();
    const routes = new Map<string, SiteRoute>();
    const sites = new Map<string, Site>();
    const keep = <T extends object>(prev: Map<string, T>, next: Map<string, T>, key: string, o: T): T => {
      const had = next.get(key) ?? prev.get(key);
      const kept = had !== undefined && same(had, o) ? had : o;
      next.set(key, kept);
      return kept;
    };
    const samePool = (p: Pool): Pool => keep(this.pools, pools, p.id, p);
    const sameRoute = (r: SiteRoute): SiteRoute => keep(this.routes, routes, routeKey(r), r);
    const sameSite = (s: Site): Site => {
      const key = s.hosts.join(' ');
      const had = sites.get(key) ?? this.sites.get(key);
      if (had !== undefined && same(had, s)) {
        for (const r of had.routes) routes.set(routeKey(r), r);
        sites.set(key, had);
        return had;
      }
      const site = { hosts: s.hosts, routes: s.routes.map(sameRoute) };
      sites.set(key, site);
      return site;
    };
    const out: EdgeConfig = { ...cfg, pools: cfg.pools.map(samePool), sites: cfg.sites.map(sameSite) };
    // Only the current config's objects are kept: memory follows the config, not its history.
    this.pools = pools;
    this.routes = routes;
    this.sites = sites;
    return out;
  }
}

function routeKey(r: SiteRoute): string {
  return `${r.service}\n${r.path}`;
}

/** Whether two values parsed from JSON are equal (objects member by member, in any key order). */
export function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!same(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let n = 0;
  for (const k in x) {
    if (!Object.hasOwn(x, k)) continue;
    n++;
    if (!Object.hasOwn(y, k) || !same(x[k], y[k])) return false;
  }
  for (const k in y) if (Object.hasOwn(y, k)) n--;
  return n === 0;
}
