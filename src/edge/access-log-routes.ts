import type { EdgeConfig, SiteRoute } from '../compile/edge-config.js';
import { routePool } from '../drivers/nginx/pools.js';

/** A request's service and route (the route's path), null when no service answered. */
export interface ResolvedRoute {
  service: string | null;
  route: string | null;
}

const NONE: ResolvedRoute = { service: null, route: null };
/** The record schema's bound on a route's name. */
const ROUTE_MAX = 128;

/**
 * Which service and route served a logged request, from the EdgeConfig the edge serves: the pool
 * nginx named ($gh_pool, set by a server block's location: routePool(route)) when there is one,
 * else the host's site (exact name, then the nearest wildcard) and its route whose path prefixes
 * the request's (routes are sorted longest path first, as nginx matches them). Fast-lane hosts
 * have one "/" route: their host alone names it.
 */
export class RouteResolver {
  private byPool = new Map<string, ResolvedRoute>();
  private byHost = new Map<string, SiteRoute[]>();
  private config: EdgeConfig | undefined;

  /** Follows a new config (a no-op for the one it holds). */
  update(cfg: EdgeConfig): void {
    if (cfg === this.config) return;
    this.config = cfg;
    const byPool = new Map<string, ResolvedRoute>();
    const byHost = new Map<string, SiteRoute[]>();
    for (const site of cfg.sites) {
      for (const r of site.routes) byPool.set(routePool(r), named(r));
      for (const h of site.hosts) byHost.set(h.toLowerCase(), site.routes);
    }
    this.byPool = byPool;
    this.byHost = byHost;
  }

  resolve(host: string, path: string, pool: string): ResolvedRoute {
    if (pool) {
      const p = this.byPool.get(pool);
      if (p) return p;
    }
    const routes = this.routesOf(host);
    if (!routes) return NONE;
    for (const r of routes) if (matches(r.path, path)) return named(r);
    return NONE;
  }

  private routesOf(host: string): SiteRoute[] | undefined {
    const exact = this.byHost.get(host);
    if (exact) return exact;
    for (let i = host.indexOf('.'); i >= 0; i = host.indexOf('.', i + 1)) {
      const wild = this.byHost.get(`*${host.slice(i)}`);
      if (wild) return wild;
    }
    return undefined;
  }
}

/** Routes are kept per SiteRoute: the same object while compile keeps the route. */
const names = new WeakMap<SiteRoute, ResolvedRoute>();

function named(r: SiteRoute): ResolvedRoute {
  let n = names.get(r);
  if (!n) names.set(r, (n = { service: r.service, route: r.path.slice(0, ROUTE_MAX) }));
  return n;
}

/** A route's path prefixes the request's, as nginx matches a prefix location. */
function matches(route: string, path: string): boolean {
  return route === '/' || path.startsWith(route);
}
