import { createHash } from 'node:crypto';
import type { Pool, SiteRoute } from '../../compile/edge-config.js';
import { address, ident, UnsafeValueError } from './escape.js';
import { html } from './pages.js';

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\x00-\x1f\x7f]/;

/**
 * HTTP pools are lines of the fast lane's table (see pools-lua.ts), not nginx upstream blocks: a
 * change to a pool's servers, balancing or down servers is a change to that table alone, sent to
 * the running nginx without a reload. Locations name their pool in `$gh_pool` and proxy to one
 * upstream block per scheme (fast-lane.ts) whose Lua balancer picks the peer. TCP (stream) pools
 * stay nginx upstream blocks: a change to one reloads nginx.
 *
 * A table line is named by its route (service and path), not by the config's pool id: routes with
 * the same servers share a pool in the config, and which route names it changes as servers change;
 * a name in nginx.conf that changed would mean a reload.
 */

/** A route's pool in the table: its name (routePool), the config's pool, the route's offline page. */
export interface RoutePool {
  name: string;
  pool: Pool;
  offline: SiteRoute['offline'];
}

/** The table's name for a route's pool: stable while the route's service and path are. */
export function routePool(route: Pick<SiteRoute, 'service' | 'path'>): string {
  const path =
    pathHashes.get(route.path) ?? createHash('sha256').update(route.path).digest('hex').slice(0, 10);
  if (pathHashes.size < 10_000) pathHashes.set(route.path, path);
  return `${ident(route.service)}-p${path}`;
}

/** Paths are few ("/" mostly): their hashes are kept, up to a bound. */
const pathHashes = new Map<string, string>();

/**
 * A route's pool in the table, the same object while the route and its pool are (compile keeps
 * both for an unchanged service): its line is then made once, not at every apply.
 */
const routePools = new WeakMap<SiteRoute, RoutePool>();

export function routePoolOf(route: SiteRoute, pool: Pool): RoutePool {
  const cached = routePools.get(route);
  if (cached?.pool === pool) return cached;
  const rp = { name: routePool(route), pool, offline: route.offline };
  routePools.set(route, rp);
  return rp;
}

/** Whether the active health checks' verdict (`down`, see poolLine) names a server of the pool. */
export function anyServerDown(pool: Pool, down: ReadonlySet<string> | undefined): boolean {
  return down !== undefined && down.size > 0 && pool.servers.some((s) => down.has(`${pool.id} ${s}`));
}

/** The upstream block every location's pool of a scheme is served through (fast-lane.ts). */
export function poolUpstream(scheme: Pool['scheme']): string {
  return `${scheme}://gh_pool_${scheme}`;
}

/** A location's lines naming its pool (validated id) and releasing its peer when the request ends. */
export function poolLocationLines(route: Pick<SiteRoute, 'service' | 'path'>): string[] {
  return [`set $gh_pool ${routePool(route)};`, 'log_by_lua_block { gh_pools.done() }'];
}

const LB: readonly Pool['lb'][] = ['round_robin', 'least_conn', 'ip_hash', 'first'];

/**
 * `@<name> <scheme> <lb> <peers> <title> <text>` (tab-separated): `name` is routePool(); peers in
 * order, comma-separated, `/down` after a peer out of rotation: every peer of a suspended pool, and
 * those `down` (`poolId address`, the active health checks' verdict) names; then the route's
 * offline page (HTML-escaped; no text: the default one).
 */
export function poolLine(
  name: string,
  pool: Pool,
  offline: SiteRoute['offline'],
  down?: ReadonlySet<string>,
): string {
  if (!LB.includes(pool.lb))
    throw new UnsafeValueError(`pool ${pool.id}: unknown lb ${JSON.stringify(pool.lb)}`);
  if (pool.scheme !== 'http' && pool.scheme !== 'https')
    throw new UnsafeValueError(`pool ${pool.id}: unknown scheme ${JSON.stringify(pool.scheme)}`);
  if (pool.servers.length === 0) throw new UnsafeValueError(`pool ${pool.id}: no servers`);
  // Not written here, but active health's down keys and passive health name it: an identifier.
  ident(pool.id);
  const peers = pool.servers.map((s) =>
    pool.down || down?.has(`${pool.id} ${s}`) ? `${address(s)}/down` : address(s),
  );
  const title = html(offline.title);
  const text = html(offline.message ?? '');
  if (!title || CONTROL.test(title) || CONTROL.test(text))
    throw new UnsafeValueError(`pool ${pool.id}: unsafe offline page text`);
  return ['@' + ident(name), pool.scheme, pool.lb, peers.join(','), title, text].join('\t');
}
