import { isIPv6 } from 'node:net';
import type { Route, Service, TcpRoute } from '../model/service.js';
import { NO_LIVE_PEER, parseEndpoint, isNameEndpoint, type Endpoint } from '../model/values.js';
import { authNamesOf, authView } from './auth-names.js';

/**
 * Services as the compiler sees them (docs/upstream-names.md): the names a service's upstreams use,
 * and the service with each named upstream replaced by addresses. Pure: what a name stands for now
 * comes from the caller (UpstreamNames in upstream-names.ts, which keeps and caches the answers).
 */

/** The addresses a name stands for now that may be dialled on this port. */
export type UsableAddresses = (name: string, port: number) => string[];

/** The DNS names a service's upstreams use (lowercase, without a trailing dot), sorted. */
export function upstreamNamesOf(svc: Service): string[] {
  const set = new Set<string>();
  for (const r of svc.routes) for (const u of r.upstreams) addName(set, parseEndpoint(u, true));
  for (const t of svc.tcp) for (const u of t.upstreams) addName(set, parseEndpoint(u, false));
  // Forward-auth URLs by name (auth-names.ts): resolved the same way.
  for (const n of authNamesOf(svc)) set.add(n);
  return [...set].sort();
}

/**
 * The service with each named upstream (and forward-auth URL) replaced by the addresses `usable`
 * gives. A route left with no address keeps one placeholder, marked NO_LIVE_PEER: no live peer.
 */
export function serviceView(svc: Service, usable: UsableAddresses): Service {
  const access = authView(svc.access, usable);
  return {
    ...svc,
    ...(access ? { access } : {}),
    routes: svc.routes.map((r) => {
      const v = routeView(r, true, usable);
      const a = authView(v.access, usable);
      return a === v.access ? v : { ...v, access: a };
    }),
    tcp: svc.tcp.map((t) => routeView(t, false, usable)),
  };
}

function routeView<R extends Route | TcpRoute>(r: R, http: boolean, usable: UsableAddresses): R {
  const eps = r.upstreams.map((u) => parseEndpoint(u, http));
  if (!eps.some((e) => typeof e !== 'string' && isNameEndpoint(e))) return r;
  const out: string[] = [];
  let first: Endpoint | undefined;
  eps.forEach((e, i) => {
    if (typeof e === 'string') return;
    first ??= e;
    if (!isNameEndpoint(e)) out.push(r.upstreams[i] as string);
    else for (const ip of usable(e.host, e.port)) out.push(upstreamText({ ...e, host: ip }, http));
  });
  const upstreams = [...new Set(out)];
  if (upstreams.length > 0) return { ...r, upstreams };
  // No address: a placeholder that is never dialled (the pool is down), same scheme and port.
  const placeholder = upstreamText(
    { scheme: first?.scheme ?? 'http', host: '0.0.0.1', port: first?.port ?? 1 },
    http,
  );
  const dead = { ...r, upstreams: [placeholder], [NO_LIVE_PEER]: true } as R & { health?: unknown };
  // No health checks of a placeholder.
  delete dead.health;
  return dead;
}

function addName(set: Set<string>, e: Endpoint | string): void {
  if (typeof e !== 'string' && isNameEndpoint(e)) set.add(e.host);
}

/** An upstream as routes write it: `host:port` (`[v6]:port`), `https://` first for an HTTPS one. */
export function upstreamText(e: Endpoint, http: boolean): string {
  const addr = isIPv6(e.host) ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
  return http && e.scheme === 'https' ? `https://${addr}` : addr;
}
