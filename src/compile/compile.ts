import type { Service } from '../model/service.js';
import type { CertRef } from '../model/tls.js';
import type { EdgeConfig, Pool, Site, SiteRoute, TcpListener } from './edge-config.js';
import {
  BUCKETS,
  acmeOf,
  bucketDigest,
  bucketOf,
  certFor,
  configHash,
  sortCerts,
  tcpWithCerts,
  tlsLine,
} from './digest.js';
import { cmp, fragmentOf, sharedRoute } from './fragment.js';

export { hasHeaderOps, routeId } from './fragment.js';

export interface CompileInput {
  services: Iterable<Service>;
  listeners: { http: number; https: number };
  /** Valid certificates (HTTPS needs an https listener too). */
  certs?: CertRef[];
  /** Pending ACME HTTP-01 challenges: token → key authorization. */
  challenges?: ReadonlyMap<string, string>;
  /** Hosts Gatehouse serves itself (the login portal): HTTPS like any service host. */
  ownHosts?: string[];
  /** Enforce CrowdSec's decisions (EdgeConfig.crowdsec). */
  crowdsec?: boolean;
}

/**
 * Registry state → EdgeConfig, in one go. Pure and deterministic: the same services (in any order)
 * give the same config and the same hash. A caller that compiles again and again (an edge) keeps a
 * Compiler (incremental.ts), which gives the same config doing only what the changes need; this
 * one is its reference.
 */
export function compile(input: CompileInput): EdgeConfig {
  const services = [...input.services].sort((a, b) => cmp(a.name, b.name));
  const pools: Pool[] = [];
  const poolByContent = new Map<string, Pool>();
  const tcp: TcpListener[] = [];
  // A host's routes, and the key of its first (see siteKey).
  const routesByHost = new Map<string, { routes: SiteRoute[]; key: string }>();
  const tlsHosts = new Set<string>();
  // The services' parts of the hash, by bucket (services come sorted by name).
  const buckets: string[][] = Array.from({ length: BUCKETS }, () => []);

  for (const svc of services) {
    const f = fragmentOf(svc);
    (buckets[bucketOf(svc.name)] as string[]).push(f.hashLine);
    for (const { pool, poolKey, route, siteKey } of f.routes) {
      // Routes with the same upstreams share one pool: fewer upstream blocks for nginx to parse,
      // and to search by name on every request that proxies to a variable.
      let shared = poolByContent.get(poolKey);
      if (!shared) {
        shared = pool;
        poolByContent.set(poolKey, pool);
        pools.push(pool);
      }
      const siteRoute = shared === pool ? route : sharedRoute(route, shared.id);
      for (const host of svc.hosts) {
        if (svc.tls !== 'none') tlsHosts.add(host);
        const list = routesByHost.get(host);
        if (list) list.routes.push(siteRoute);
        else routesByHost.set(host, { routes: [siteRoute], key: siteKey });
      }
    }
    for (const t of f.tcp) {
      pools.push(t.pool);
      tcp.push(t.listener);
    }
  }

  // Hosts with identical route lists share one site (one server block, many names).
  const sitesByKey = new Map<string, Site>();
  for (const [host, entry] of [...routesByHost].sort((a, b) => cmp(a[0], b[0]))) {
    const routes = entry.routes.sort(byPath);
    // A (service, path) pair names one route: unique across the registry.
    const key = routes.length === 1 ? entry.key : siteKeyOf(routes);
    const site = sitesByKey.get(key);
    if (site) site.hosts.push(host);
    else sitesByKey.set(key, { hosts: [host], routes });
  }
  const sites = [...sitesByKey.values()].sort((a, b) => cmp(a.hosts[0] ?? '', b.hosts[0] ?? ''));
  tcp.sort((a, b) => a.port - b.port);

  for (const h of input.ownHosts ?? []) tlsHosts.add(h);
  const certs = input.listeners.https > 0 ? (input.certs ?? []) : [];
  // No certificate, no host gets one: 10,000 host names are not sorted for nothing.
  const ordered = sortCerts(certs);
  const used = new Map<string, { id: string; fingerprint: string }>();
  const hosts: [string, string][] = [];
  const tlsBuckets: string[][] = Array.from({ length: BUCKETS }, () => []);
  for (const host of certs.length > 0 ? [...tlsHosts].sort(cmp) : []) {
    const cert = certFor(ordered, host);
    if (!cert) continue;
    used.set(cert.id, { id: cert.id, fingerprint: cert.fingerprint });
    hosts.push([host, cert.id]);
    (tlsBuckets[bucketOf(host)] as string[]).push(tlsLine(host, cert.id));
  }
  const tcpOut = tcpWithCerts(tcp, input.certs ?? [], used);
  const tls = { certs: [...used.values()].sort((a, b) => cmp(a.id, b.id)), hosts };
  const acme = acmeOf(input.challenges);
  const hash = configHash(
    input.listeners,
    buckets.map(bucketDigest),
    { certs: tls.certs, buckets: tlsBuckets.map(bucketDigest) },
    acme,
    tcpOut,
    !!input.crowdsec,
  );
  return {
    schema: 1,
    listeners: input.listeners,
    sites,
    pools,
    tcp: tcpOut,
    tls,
    acme,
    hash,
    ...(input.crowdsec ? { crowdsec: true as const } : {}),
  };
}

/** Longest path first; equal paths keep their order (services by name). */
export function byPath(a: SiteRoute, b: SiteRoute): number {
  return b.path.length - a.path.length || cmp(a.path, b.path);
}

/** The key of a host's (sorted) routes: hosts with the same key share a site. */
export function siteKeyOf(routes: readonly SiteRoute[]): string {
  return routes.length === 1
    ? `${(routes[0] as SiteRoute).service} ${(routes[0] as SiteRoute).path}`
    : routes.map((r) => `${r.service} ${r.path}`).join('\n');
}
