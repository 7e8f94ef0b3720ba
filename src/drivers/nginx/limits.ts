import type { EdgeConfig, RouteLimits } from '../../compile/edge-config.js';
import { ident } from './escape.js';

/**
 * Connection and bandwidth limits (a route's `limits`, or its service's): nginx's limit_conn and
 * limit_rate. Two shared zones in all, whatever the number of routes: one counts a scope's requests
 * in flight, the other a client address's within a scope; the scope (the service, or a route with
 * limits of its own) is set in each location, as the rate limit's is.
 */

/** The http-level zones, when some route has a connection limit. */
export function connectionZones(cfg: EdgeConfig): string[] {
  let total = false;
  let perClient = false;
  for (const s of cfg.sites)
    for (const r of s.routes) {
      if (r.limits?.connections !== undefined) total = true;
      if (r.limits?.perClient !== undefined) perClient = true;
    }
  if (!total && !perClient) return [];
  return [
    // Declared at http level; a location's `set` gives it its scope. Elsewhere it is empty, and
    // nginx does not count a request whose key is empty.
    'geo $gh_lc_scope {',
    '    default "";',
    '}',
    'limit_conn_status 429;',
    ...(total ? ['limit_conn_zone $gh_lc_scope zone=gh_lc_total:1m;'] : []),
    ...(perClient ? ['limit_conn_zone "$binary_remote_addr$gh_lc_scope" zone=gh_lc_client:10m;'] : []),
  ];
}

/** A location's lines for its limits. */
export function limitLines(l: RouteLimits | undefined): string[] {
  if (!l) return [];
  const conn = l.connections !== undefined || l.perClient !== undefined;
  return [
    ...(conn ? [`set $gh_lc_scope "${ident(l.scope)}";`] : []),
    ...(l.connections !== undefined ? [`limit_conn gh_lc_total ${int(l.connections)};`] : []),
    ...(l.perClient !== undefined ? [`limit_conn gh_lc_client ${int(l.perClient)};`] : []),
    ...(l.bandwidth !== undefined ? [`limit_rate ${int(l.bandwidth)};`] : []),
  ];
}

function int(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`unsafe limit ${n}`);
  return n;
}
