import type { SiteRoute } from '../compile/edge-config.js';
import { routePool } from '../drivers/nginx/pools.js';

/** What the resolver needs of the config an edge serves (an EdgeConfig is one). */
export interface RouteIndex {
  sites: readonly { hosts: readonly string[]; routes: readonly Pick<SiteRoute, 'service' | 'path'>[] }[];
}

/**
 * Sites added and hosts removed since the last change: see RouteResolver.apply. A site's routes are
 * [service, path] pairs; a site whose one route is "/" is sent as its service's name alone.
 */
export interface RouteChange {
  add: [hosts: string[], routes: string | [service: string, path: string][]][];
  remove: string[];
}

/**
 * The main thread's side of RouteChange: what changed in the sites of a config since the last one
 * told. Sites the compiler kept (the same objects) are not told again.
 */
export class RouteChanges {
  private sent = new Set<RouteIndex['sites'][number]>();

  next(cfg: RouteIndex): RouteChange {
    const sent = new Set<RouteIndex['sites'][number]>();
    const add: RouteChange['add'] = [];
    for (const site of cfg.sites) {
      if (!this.sent.has(site)) {
        const [only] = site.routes;
        const routes: RouteChange['add'][number][1] =
          site.routes.length === 1 && only?.path === '/'
            ? only.service
            : site.routes.map((r) => [r.service, r.path]);
        add.push([[...site.hosts], routes]);
      }
      sent.add(site);
    }
    const remove: string[] = [];
    for (const site of this.sent) if (!sent.has(site)) remove.push(...site.hosts);
    this.sent = sent;
    return { add, remove };
  }
}

/** A request's service and route (the route's path), null when no service answered. */
export interface ResolvedRoute {
  service: string | null;
  route: string | null;
}

/** A route as the resolver keeps it; `pool` is its pool's name, worked out when a line names one. */
interface Route {
  service: string;
  path: string;
  pool?: string;
}

/** A host's routes: the service alone when its one route is "/" (most hosts), else its routes. */
type HostRoutes = string | readonly Route[];

const NONE: ResolvedRoute = { service: null, route: null };
/** The record schema's bound on a route's name. */
const ROUTE_MAX = 128;

/**
 * Which service and route served a logged request, from the hosts and routes of the EdgeConfig
 * the edge serves: the host's site (exact name, then the nearest wildcard), and of its routes the
 * one whose pool nginx named ($gh_pool, set by a server block's location: routePool(route)), else
 * the one whose path prefixes the request's (routes are sorted longest path first, as nginx
 * matches them). Kept small, a host and a service name for most hosts: at 10,000 routes it lives in
 * the log store's writer thread beside the main thread's own config.
 */
export class RouteResolver {
  private readonly byHost = new Map<string, HostRoutes>();
  private readonly changes = new RouteChanges();

  /** Follows a whole config (tests; the reader's thread is told by change, apply()). */
  update(cfg: RouteIndex): void {
    this.apply(this.changes.next(cfg));
  }

  /**
   * Follows a change (the reader's thread: the main thread sends the sites that changed and the
   * hosts of those gone): removed first, then added. A host belongs to one site at a time.
   */
  apply(change: RouteChange): void {
    for (const host of change.remove) this.byHost.delete(host.toLowerCase());
    for (const [hosts, routes] of change.add) {
      const kept: HostRoutes =
        typeof routes === 'string' ? routes : routes.map(([service, path]) => ({ service, path }));
      for (const h of hosts) this.byHost.set(h.toLowerCase(), kept);
    }
  }

  resolve(host: string, path: string, pool: string): ResolvedRoute {
    const routes = this.routesOf(host);
    if (routes === undefined) return NONE;
    if (typeof routes === 'string') return { service: routes, route: '/' };
    if (pool) {
      for (const r of routes) if ((r.pool ??= routePool(r)) === pool) return named(r);
    }
    for (const r of routes) if (matches(r.path, path)) return named(r);
    return NONE;
  }

  private routesOf(host: string): HostRoutes | undefined {
    const exact = this.byHost.get(host);
    if (exact !== undefined) return exact;
    for (let i = host.indexOf('.'); i >= 0; i = host.indexOf('.', i + 1)) {
      const wild = this.byHost.get(`*${host.slice(i)}`);
      if (wild !== undefined) return wild;
    }
    return undefined;
  }
}

function named(r: Route): ResolvedRoute {
  return { service: r.service, route: r.path.slice(0, ROUTE_MAX) };
}

/** A route's path prefixes the request's, as nginx matches a prefix location. */
function matches(route: string, path: string): boolean {
  return route === '/' || path.startsWith(route);
}
