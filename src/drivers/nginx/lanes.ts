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
const byRoute = new WeakMap<SiteRoute, RouteLane>();

/** A route's lane. Most routes serve one host: its entry is `one`, a Map only for the others. */
interface RouteLane {
  pool: Pool | undefined;
  target?: Target;
  one?: FastEntry;
  more?: Map<string, FastEntry>;
}

function simple(r: SiteRoute, pool: Pool | undefined): Target | undefined {
  if (
    !pool ||
    r.path !== '/' ||
    !r.access.public ||
    // The fast lane checks CrowdSec's decisions for every host it serves, when any are enforced.
    r.crowdsecOff ||
    r.waf ||
    r.access.rateLimit ||
    r.limits ||
    r.access.policy ||
    // Strict-Transport-Security is a header the fast lane's shared server cannot add per host.
    r.hsts ||
    hasHeaderOps(r.headers)
  )
    return undefined;
  // Any pool: its servers, balancing and health are the table's (pools.ts), like the host.
  return { scheme: pool.scheme, pool: routePool(r), offline: r.offline };
}

function routeLane(r: SiteRoute, pools: ReadonlyMap<string, Pool>): RouteLane {
  const pool = pools.get(r.pool);
  let memo = byRoute.get(r);
  if (!memo || memo.pool !== pool) {
    const target = simple(r, pool);
    memo = { pool, ...(target ? { target } : {}) };
    byRoute.set(r, memo);
  }
  return memo;
}

/** What one site makes: its fast-lane entries, and the server block it needs (if any), in order. */
export interface SiteLane {
  fast: FastEntry[];
  full: Site | undefined;
}

/**
 * Whether an exact host is covered by a wildcard host of `sites`. A wildcard server_name would win
 * over an exact host that only lives in the fast lane, so such a host must get its own server block.
 */
export function wildcardCover(sites: Site[]): (host: string) => boolean {
  const wildcards = sites.flatMap((s) => s.hosts.filter((h) => h.startsWith('*.')).map((h) => h.slice(1)));
  return (h) => wildcards.length > 0 && wildcards.some((suffix) => h.endsWith(suffix));
}

const NO_ENTRIES: FastEntry[] = [];

/** One site's lanes (`covered`: wildcardCover of all the sites). */
export function siteLane(
  site: Site,
  pools: ReadonlyMap<string, Pool>,
  covered: (host: string) => boolean,
): SiteLane {
  const lane = site.routes.length === 1 ? routeLane(site.routes[0] as SiteRoute, pools) : undefined;
  const target = lane?.target;
  if (!lane || !target) return { fast: NO_ENTRIES, full: site };
  // Sized to the site's hosts (it is kept in the render memo as long as the site): one grown by push
  // from empty keeps room for 17 entries, ~130 bytes a site at 10,000 sites.
  const fast: FastEntry[] = new Array<FastEntry>(site.hosts.length);
  let n = 0;
  let rest: string[] | undefined;
  for (const host of site.hosts) {
    if (host.startsWith('*.') || covered(host)) {
      (rest ??= []).push(host);
      continue;
    }
    let entry = lane.one?.host === host ? lane.one : lane.more?.get(host);
    if (!entry) {
      entry = { host, ...target };
      if (!lane.one) lane.one = entry;
      else (lane.more ??= new Map()).set(host, entry);
    }
    fast[n++] = entry;
  }
  fast.length = n;
  return { fast, full: rest ? { hosts: rest, routes: site.routes } : undefined };
}

/** Which sites can be a fast-lane entry, and which need a server block. */
export function splitLanes(
  sites: Site[],
  pools: ReadonlyMap<string, Pool>,
): { fast: FastEntry[]; full: Site[] } {
  const fast: FastEntry[] = [];
  const full: Site[] = [];
  const covered = wildcardCover(sites);
  for (const site of sites) {
    const lane = siteLane(site, pools, covered);
    for (const f of lane.fast) fast.push(f);
    if (lane.full) full.push(lane.full);
  }
  return { fast, full };
}
