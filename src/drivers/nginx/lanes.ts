import { hasHeaderOps } from '../../compile/compile.js';
import type { Pool, Site, SiteRoute } from '../../compile/edge-config.js';
import { routePool } from './pools.js';

/** A fast-lane host: served from nginx's shared memory (see fast-lane.ts), not from a server block. */
export interface FastEntry {
  host: string;
  scheme: 'http' | 'https';
  /** Its route's pool in the same table (routePool): its servers, balancing and health. */
  pool: string;
  /** The service's offline page: title and, when set, its own text. */
  offline: { title: string; message?: string };
}

type Target = Omit<FastEntry, 'host'>;

/**
 * What a route makes of its hosts, by route object: compile hands back the same route while its
 * service is unchanged, so at 10,000 sites an apply looks at the new ones only, and an unchanged
 * host keeps its FastEntry object (whose table line fast-lane.ts keeps in turn).
 */
const byRoute = new WeakMap<
  SiteRoute,
  { pool: Pool | undefined; target?: Target; hosts: Map<string, FastEntry> }
>();

function simple(r: SiteRoute, pool: Pool | undefined): Target | undefined {
  if (
    !pool ||
    r.path !== '/' ||
    !r.access.public ||
    r.access.rateLimit ||
    r.access.policy ||
    // Strict-Transport-Security is a header the fast lane's shared server cannot add per host.
    r.hsts ||
    hasHeaderOps(r.headers)
  )
    return undefined;
  // Any pool: its servers, balancing and health are the table's (pools.ts), like the host.
  return { scheme: pool.scheme, pool: routePool(r), offline: r.offline };
}

function routeLane(r: SiteRoute, pools: Map<string, Pool>) {
  const pool = pools.get(r.pool);
  let memo = byRoute.get(r);
  if (!memo || memo.pool !== pool) {
    const target = simple(r, pool);
    memo = { pool, ...(target ? { target } : {}), hosts: new Map() };
    byRoute.set(r, memo);
  }
  return memo;
}

/** Which sites can be a fast-lane entry, and which need a server block. */
export function splitLanes(sites: Site[], pools: Map<string, Pool>): { fast: FastEntry[]; full: Site[] } {
  const fast: FastEntry[] = [];
  const full: Site[] = [];
  // A wildcard server_name would win over an exact host that only lives in the fast lane, so an
  // exact host covered by a wildcard site must get its own server block too.
  const wildcards = sites.flatMap((s) => s.hosts.filter((h) => h.startsWith('*.')).map((h) => h.slice(1)));
  const coveredByWildcard = (h: string) =>
    wildcards.length > 0 && wildcards.some((suffix) => h.endsWith(suffix));
  for (const site of sites) {
    const lane = site.routes.length === 1 ? routeLane(site.routes[0] as SiteRoute, pools) : undefined;
    const target = lane?.target;
    if (!lane || !target) {
      full.push(site);
      continue;
    }
    let rest: string[] | undefined;
    for (const host of site.hosts) {
      if (host.startsWith('*.') || coveredByWildcard(host)) {
        (rest ??= []).push(host);
        continue;
      }
      let entry = lane.hosts.get(host);
      if (!entry) {
        entry = { host, ...target };
        lane.hosts.set(host, entry);
      }
      fast.push(entry);
    }
    if (rest) full.push({ hosts: rest, routes: site.routes });
  }
  return { fast, full };
}
