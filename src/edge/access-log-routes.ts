import type { SiteRoute } from '../compile/edge-config.js';
import { routePool } from '../drivers/nginx/pools.js';

/** What the resolver needs of the config an edge serves (an EdgeConfig is one). */
export interface RouteIndex {
  sites: readonly { hosts: readonly string[]; routes: readonly Pick<SiteRoute, 'service' | 'path'>[] }[];
}

/** Sites added (with an id) and removed (by id) since the last change: see RouteResolver.apply. */
export interface RouteChange {
  add: [number, RouteIndex['sites'][number]][];
  remove: number[];
}

/**
 * The main thread's side of RouteChange: what changed in the sites of a config since the last one
 * told. Sites the compiler kept (the same objects) are not told again.
 */
export class RouteChanges {
  private sent = new Map<object, number>();
  private nextId = 1;

  next(cfg: RouteIndex): RouteChange {
    const sent = new Map<object, number>();
    const add: RouteChange['add'] = [];
    for (const site of cfg.sites) {
      let id = this.sent.get(site);
      if (id === undefined) {
        id = this.nextId++;
        add.push([
          id,
          { hosts: [...site.hosts], routes: site.routes.map((r) => ({ service: r.service, path: r.path })) },
        ]);
      }
      sent.set(site, id);
    }
    const remove: number[] = [];
    for (const [site, id] of this.sent) if (!sent.has(site)) remove.push(id);
    this.sent = sent;
    return { add, remove };
  }
}

/** A request's service and route (the route's path), null when no service answered. */
export interface ResolvedRoute {
  service: string | null;
  route: string | null;
}

type Route = Pick<SiteRoute, 'service' | 'path'>;

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
  private readonly byPool = new Map<string, ResolvedRoute>();
  private readonly byHost = new Map<string, readonly Route[]>();

  /** Follows a whole config (tests; the reader's thread is told by change, apply()). */
  update(cfg: RouteIndex): void {
    this.apply(this.changes.next(cfg));
  }

  private readonly changes = new RouteChanges();

  /**
   * Follows a change told site by site (the reader's thread: the main thread sends the sites that
   * changed, each with an id, and the ids of those gone): removed first, then added.
   */
  apply(change: RouteChange): void {
    for (const id of change.remove) {
      const site = this.sites.get(id);
      if (!site) continue;
      this.sites.delete(id);
      for (const r of site.routes) {
        const pool = routePool(r);
        if (this.byPool.get(pool)?.service === r.service) this.byPool.delete(pool);
      }
      for (const h of site.hosts) {
        const host = h.toLowerCase();
        if (this.byHost.get(host) === site.routes) this.byHost.delete(host);
      }
    }
    for (const [id, site] of change.add) {
      this.sites.set(id, site);
      for (const r of site.routes) this.byPool.set(routePool(r), named(r));
      for (const h of site.hosts) this.byHost.set(h.toLowerCase(), site.routes);
    }
  }

  private readonly sites = new Map<number, RouteIndex['sites'][number]>();

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

  private routesOf(host: string): readonly Route[] | undefined {
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
const names = new WeakMap<Route, ResolvedRoute>();

function named(r: Route): ResolvedRoute {
  let n = names.get(r);
  if (!n) names.set(r, (n = { service: r.service, route: r.path.slice(0, ROUTE_MAX) }));
  return n;
}

/** A route's path prefixes the request's, as nginx matches a prefix location. */
function matches(route: string, path: string): boolean {
  return route === '/' || path.startsWith(route);
}
