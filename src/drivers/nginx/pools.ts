import type { Pool } from '../../compile/edge-config.js';
import { address, ident, UnsafeValueError } from './escape.js';

/**
 * HTTP pools are lines of the fast lane's table (see pools-lua.ts), not nginx upstream blocks: a
 * change to a pool's servers, balancing or down servers is a change to that table alone, sent to
 * the running nginx without a reload. Locations name their pool in `$gh_pool` and proxy to one
 * upstream block per scheme (fast-lane.ts) whose Lua balancer picks the peer. TCP (stream) pools
 * stay nginx upstream blocks: a change to one reloads nginx.
 */

/** The upstream block every pool of a scheme is served through. */
export function poolUpstream(scheme: Pool['scheme']): string {
  return `${scheme}://gh_fast_${scheme}`;
}

/** A location's lines naming its pool (validated id) and releasing its peer when the request ends. */
export function poolLocationLines(pool: Pool): string[] {
  return [`set $gh_pool ${ident(pool.id)};`, 'log_by_lua_block { gh_pools.done() }'];
}

const LB: readonly Pool['lb'][] = ['round_robin', 'least_conn', 'ip_hash', 'first'];

/**
 * `@<id> <scheme> <lb> <peers>` (tab-separated), peers in order, comma-separated, `/down` after
 * a peer out of rotation: every peer of a suspended pool, and those `down` (`poolId address`, the
 * active health checks' verdict) names.
 */
export function poolLine(pool: Pool, down?: ReadonlySet<string>): string {
  if (!LB.includes(pool.lb))
    throw new UnsafeValueError(`pool ${pool.id}: unknown lb ${JSON.stringify(pool.lb)}`);
  if (pool.scheme !== 'http' && pool.scheme !== 'https')
    throw new UnsafeValueError(`pool ${pool.id}: unknown scheme ${JSON.stringify(pool.scheme)}`);
  if (pool.servers.length === 0) throw new UnsafeValueError(`pool ${pool.id}: no servers`);
  const peers = pool.servers.map((s) =>
    pool.down || down?.has(`${pool.id} ${s}`) ? `${address(s)}/down` : address(s),
  );
  return ['@' + ident(pool.id), pool.scheme, pool.lb, peers.join(',')].join('\t');
}
