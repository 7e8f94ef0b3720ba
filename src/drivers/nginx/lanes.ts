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

/** Which sites can be a fast-lane entry, and which need a server block. */
export function splitLanes(sites: Site[], pools: Map<string, Pool>): { fast: FastEntry[]; full: Site[] } {
  const fast: FastEntry[] = [];
  const full: Site[] = [];
  const simple = (site: Site): Omit<FastEntry, 'host'> | undefined => {
    if (site.routes.length !== 1) return undefined;
    const r = site.routes[0] as SiteRoute;
    const pool = pools.get(r.pool);
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
  };
  // A wildcard server_name would win over an exact host that only lives in the fast lane, so an
  // exact host covered by a wildcard site must get its own server block too.
  const wildcards = sites.flatMap((s) => s.hosts.filter((h) => h.startsWith('*.')).map((h) => h.slice(1)));
  const coveredByWildcard = (h: string) => wildcards.some((suffix) => h.endsWith(suffix));
  for (const site of sites) {
    const target = simple(site);
    const fastHosts = target ? site.hosts.filter((h) => !h.startsWith('*.') && !coveredByWildcard(h)) : [];
    for (const host of fastHosts) fast.push({ host, ...(target as Omit<FastEntry, 'host'>) });
    const rest = site.hosts.filter((h) => !fastHosts.includes(h));
    if (rest.length > 0) full.push({ hosts: rest, routes: site.routes });
  }
  return { fast, full };
}
