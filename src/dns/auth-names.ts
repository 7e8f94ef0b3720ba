import { isIPv6 } from 'node:net';
import type { Access, Service } from '../model/service.js';
import {
  isNameEndpoint,
  NAMED_AUTH,
  parseEndpoint,
  splitAuthUrl,
  type Endpoint,
  type NamedAuth,
} from '../model/values.js';

/**
 * Forward-auth URLs by name (docs/upstream-names.md): `access.forward_auth.url` may name its host
 * (`http://authelia:9091/api/verify`), resolved as upstream names are (src/dns/upstream-names.ts).
 * The compiler sees the URL with an address the name stands for now and, marked NAMED_AUTH, the
 * Host header to send (`name:port`), or `down` when the name resolves to nothing (503, fail closed).
 */

/** A forward-auth URL's endpoint when it names its host; undefined when it gives an address. */
export function authNameOf(url: string): { ep: Endpoint; rest: string } | undefined {
  const parts = splitAuthUrl(url);
  if (!parts) return undefined;
  const ep = parseEndpoint(parts.origin, true);
  return typeof ep !== 'string' && isNameEndpoint(ep) ? { ep, rest: parts.rest } : undefined;
}

/** Per service object (records are immutable): its names, worked out once. */
const namesBySvc = new WeakMap<Service, string[]>();

/** The names a service's forward-auth URLs use (service-wide and per route). */
export function authNamesOf(svc: Service): string[] {
  let out = namesBySvc.get(svc);
  if (out) return out;
  out = [];
  for (const a of [svc.access, ...svc.routes.map((r) => r.access)]) {
    const named = a?.forward_auth ? authNameOf(a.forward_auth.url) : undefined;
    if (named) out.push(named.ep.host);
  }
  namesBySvc.set(svc, out);
  return out;
}

/**
 * The access with its forward-auth URL's name replaced by the first usable address of `usable`
 * (sorted; undefined: none), marked NAMED_AUTH; the access itself when its URL gives an address.
 */
export function authView(
  a: Access | undefined,
  usable: (name: string, port: number) => string[],
): Access | undefined {
  const fa = a?.forward_auth;
  const named = fa ? authNameOf(fa.url) : undefined;
  if (!a || !fa || !named) return a;
  const { ep, rest } = named;
  const ip = usable(ep.host, ep.port)[0];
  const mark: NamedAuth = { host: `${ep.host}:${ep.port}`, ...(ip === undefined ? { down: true } : {}) };
  // With no address the URL is never dialled (the driver answers 503): it keeps the name.
  const url = ip === undefined ? fa.url : `${ep.scheme}://${isIPv6(ip) ? `[${ip}]` : ip}:${ep.port}${rest}`;
  return { ...a, forward_auth: { ...fa, url, [NAMED_AUTH]: mark } as typeof fa };
}
