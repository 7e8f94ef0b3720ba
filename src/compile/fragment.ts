import { createHash } from 'node:crypto';
import { bandwidthBytes } from '../model/limits.js';
import type { Access, Headers, Service } from '../model/service.js';
import {
  durationMs,
  endpointAddress,
  hasNoLivePeer as noLivePeer,
  namedAuthOf,
  parseEndpoint,
  type Endpoint,
} from '../model/values.js';
import type { EffectiveAccess, HeaderOps, Pool, RouteLimits, SiteRoute, TcpListener } from './edge-config.js';

/** What one service contributes, before pools are shared across services. */
export interface Fragment {
  /**
   * `<name> <hash>\n`, the service's part of the config's hash (made once), where the hash covers
   * everything in the service that reaches the proxy (not its labels).
   */
  hashLine: string;
  routes: { pool: Pool; poolKey: string; route: SiteRoute; siteKey: string }[];
  tcp: { pool: Pool; listener: TcpListener }[];
}

/**
 * Fragments by service object. Records are immutable (a write replaces the object), so a service
 * that did not change is not translated again: at 10,000 services most of a compile is skipped.
 */
const fragments = new WeakMap<Service, Fragment>();

/**
 * A route that uses another service's identical pool, the same object from one compile to the next
 * while that stays so: the nginx driver keeps what it made of a route by the route object.
 */
const sharedRoutes = new WeakMap<SiteRoute, SiteRoute>();

export function sharedRoute(route: SiteRoute, pool: string): SiteRoute {
  const cached = sharedRoutes.get(route);
  if (cached?.pool === pool) return cached;
  const r = { ...route, pool };
  sharedRoutes.set(route, r);
  return r;
}

export function fragmentOf(svc: Service): Fragment {
  const cached = fragments.get(svc);
  if (cached) return cached;
  // Headers this service's upstreams trust because its auth sets them: on its public routes a
  // client's copy must not get through either.
  const trusted = trustedHeaders(svc);
  const routes = svc.routes.map((route, i) => {
    const endpoints = route.upstreams.map((u) => parseEndpoint(u, true) as Endpoint);
    const health = route.health
      ? {
          path: route.health.path,
          intervalMs: durationMs(route.health.interval),
          timeoutMs: durationMs(route.health.timeout),
        }
      : undefined;
    const pool: Pool = {
      id: `${svc.name}-r${i}`,
      scheme: endpoints[0]?.scheme ?? 'http',
      lb: route.lb,
      servers: endpoints.map(endpointAddress),
      ...(health ? { health } : {}),
      ...(svc.suspended || noLivePeer(route) ? { down: true } : {}),
    };
    const h = pool.health;
    // Joined, not a template: one flat string, not a tree of concatenations kept per route.
    const poolKey = [
      pool.scheme,
      ' ',
      pool.lb,
      ' ',
      pool.servers.join(','),
      ' ',
      h ? `${h.path} ${h.intervalMs} ${h.timeoutMs}` : '',
      pool.down ? ' down' : '',
    ].join('');
    const access = effectiveAccess(route.access ?? svc.access, svc.name, route.path);
    const ops = headerOps(route.headers);
    const ownCopies = new Set((access.forwardAuth?.copyHeaders ?? []).map((n) => n.toLowerCase()));
    const siteRoute: SiteRoute = {
      service: svc.name,
      offline: {
        title: svc.offline_page?.title ?? svc.name,
        ...(svc.offline_page?.message ? { message: svc.offline_page.message } : {}),
      },
      ...(svc.hsts ? { hsts: true } : {}),
      ...(svc.crowdsec === false ? { crowdsecOff: true } : {}),
      ...(svc.waf
        ? {
            waf: {
              mode: svc.waf.mode,
              paranoia: svc.waf.paranoia,
              excludeRules: [...new Set(svc.waf.exclude_rules)].sort((a, b) => a - b),
            },
          }
        : {}),
      path: route.path,
      pool: pool.id,
      stripPrefix: route.strip_prefix && route.path !== '/',
      access,
      ...limitsOf(
        route.limits
          ? { limits: route.limits, scope: routeId(svc.name, route.path) }
          : svc.limits
            ? { limits: svc.limits, scope: svc.name }
            : undefined,
      ),
      // Headers the service's auth vouches for are removed from client requests on every route,
      // except where this route's own auth answer sets them.
      headers: withDeleted(
        ops,
        trusted.filter((n) => !ownCopies.has(n.toLowerCase())),
      ),
    };
    // The route's key among sites (see compile), made once: a fresh string is hashed at every lookup.
    return { pool, poolKey, route: siteRoute, siteKey: `${svc.name} ${route.path}` };
  });
  const tcp = svc.tcp.map((t, i) => {
    const id = `${svc.name}-t${i}`;
    const servers = t.upstreams.map((u) => endpointAddress(parseEndpoint(u, false) as Endpoint));
    return {
      pool: { id, scheme: 'http' as const, lb: t.lb, servers, ...(noLivePeer(t) ? { down: true } : {}) },
      listener: {
        port: t.port,
        service: svc.name,
        pool: id,
        ...(t.tls && t.sni ? { tls: { mode: t.tls, sni: [...t.sni] } } : {}),
      } as TcpListener,
    };
  });
  const hash = createHash('sha256')
    .update(
      JSON.stringify([svc.hosts, routes.map(({ pool, poolKey, route }) => ({ pool, poolKey, route })), tcp]),
    )
    .digest('hex');
  const f = { hashLine: [svc.name, ' ', hash, '\n'].join(''), routes, tcp };
  fragments.set(svc, f);
  return f;
}

/**
 * The access of a route with none of its own, and the header operations of a route with none: one
 * shared, frozen object each (nothing changes a config's objects), not one per route. At 10,000
 * simple registrations they were ~2.5 MB of the heap.
 */
const PUBLIC: EffectiveAccess = Object.freeze({ public: true });
const NO_HEADER_OPS: HeaderOps = Object.freeze({
  requestSet: Object.freeze([]) as unknown as [string, string][],
  requestDelete: Object.freeze([]) as unknown as string[],
  responseSet: Object.freeze([]) as unknown as [string, string][],
  responseDelete: Object.freeze([]) as unknown as string[],
});

function effectiveAccess(a: Access | undefined, service: string, path: string): EffectiveAccess {
  if (a === undefined) return PUBLIC;
  const fa = a?.forward_auth;
  const rl = a?.rate_limit;
  const scope = routeId(service, path);
  const sets = a?.identity_headers ?? ['remote', 'x-user'];
  return {
    public: !fa && !a?.ip && !a?.login && !a?.links && !a?.basic && !a?.provider && !a?.api_keys,
    ...(fa
      ? {
          forwardAuth: {
            url: fa.url,
            copyHeaders: fa.copy_headers,
            ...namedAuthOf(fa),
            ...(fa.pass_redirects ? { passRedirects: true as const } : {}),
            ...(fa.login_url ? { loginUrl: fa.login_url } : {}),
          },
        }
      : {}),
    ...(a?.ip ? { ip: [...a.ip] } : {}),
    ...(rl
      ? {
          rateLimit: {
            // nginx counts in whole requests per minute: round down, never looser than asked.
            perMinute: Math.floor((rl.requests * 60_000) / durationMs(rl.per)),
            // Its burst is what a client may send on top of the request that is due.
            burst: rl.requests - 1,
            scope,
            ...(rl.by === 'user' ? { byUser: true } : {}),
          },
        }
      : {}),
    ...(a?.login || a?.provider
      ? {
          login: {
            groups: [...new Set(a.login?.groups ?? [])].sort(cmp),
            ...(a.provider ? { provider: a.provider } : {}),
          },
        }
      : {}),
    ...(a?.login || a?.provider || a?.api_keys
      ? { identity: { remote: sets.includes('remote'), xUser: sets.includes('x-user') } }
      : {}),
    ...(a?.rules
      ? {
          rules: a.rules.map((r) => ({
            action: r.action,
            cidrs: r.cidr === undefined ? [] : Array.isArray(r.cidr) ? [...r.cidr] : [r.cidr],
            ...(r.path !== undefined ? { path: r.path } : {}),
            methods: [...new Set(r.method ?? [])].sort(cmp),
            headers: (r.header === undefined ? [] : Array.isArray(r.header) ? r.header : [r.header]).map(
              (h) => ({ ...h, name: h.name.toLowerCase() }),
            ),
            ...(r.country ? { countries: [...new Set(r.country)].sort(cmp) } : {}),
            ...(r.country_not ? { notCountries: [...new Set(r.country_not)].sort(cmp) } : {}),
            ...(r.asn ? { asns: [...new Set(r.asn)].sort((x, y) => x - y) } : {}),
          })),
        }
      : {}),
    ...(a?.links ? { links: true } : {}),
    ...(a?.api_keys
      ? { apiKeys: a.api_keys === true ? {} : { header: a.api_keys.header.toLowerCase() } }
      : {}),
    ...(a?.basic ? { basic: { users: a.basic.map((b) => b.user) } } : {}),
    ...(a?.login || a?.provider || a?.rules || a?.links || a?.basic || a?.api_keys ? { policy: scope } : {}),
  };
}

/**
 * A route's stable id (service and path): keys its rate-limit buckets and its entry in the gate's
 * policy table, the same on every reload and every host.
 */
export function routeId(service: string, path: string): string {
  return createHash('sha256').update(`${service}\n${path}`).digest('hex').slice(0, 16);
}

function trustedHeaders(svc: Service): string[] {
  const auths = [svc.access, ...svc.routes.map((r) => r.access)].flatMap((a) => a?.forward_auth ?? []);
  return auths.flatMap((a) => a.copy_headers);
}

/** `ops` with `names` deleted from the request too, unless it sets or deletes them already. */
function withDeleted(ops: HeaderOps, names: string[]): HeaderOps {
  const taken = new Set(
    [...ops.requestSet.map(([n]) => n), ...ops.requestDelete].map((n) => n.toLowerCase()),
  );
  const extra = [...new Set(names.filter((n) => !taken.has(n.toLowerCase())).map((n) => n.toLowerCase()))];
  if (extra.length === 0) return ops;
  return { ...ops, requestDelete: [...ops.requestDelete, ...extra].sort(cmp) };
}

function headerOps(h: Headers | undefined): HeaderOps {
  if (h === undefined) return NO_HEADER_OPS;
  const sorted = (r: Record<string, string> | undefined): [string, string][] =>
    Object.entries(r ?? {}).sort(([a], [b]) => cmp(a.toLowerCase(), b.toLowerCase()));
  const ops = {
    requestSet: sorted(h?.request?.set),
    requestDelete: [...(h?.request?.delete ?? [])].sort(cmp),
    responseSet: sorted(h?.response?.set),
    responseDelete: [...(h?.response?.delete ?? [])].sort(cmp),
  };
  return hasHeaderOps(ops) ? ops : NO_HEADER_OPS;
}

export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function hasHeaderOps(h: HeaderOps): boolean {
  return h.requestSet.length + h.requestDelete.length + h.responseSet.length + h.responseDelete.length > 0;
}

/** A route's limits (its own, else the service's), as the driver renders them. */
function limitsOf(l: { limits: NonNullable<Service['limits']>; scope: string } | undefined): {
  limits?: RouteLimits;
} {
  if (!l) return {};
  const { connections, connections_per_client: perClient, bandwidth } = l.limits;
  return {
    limits: {
      scope: l.scope,
      ...(connections !== undefined ? { connections } : {}),
      ...(perClient !== undefined ? { perClient } : {}),
      ...(bandwidth !== undefined ? { bandwidth: bandwidthBytes(bandwidth) } : {}),
    },
  };
}
