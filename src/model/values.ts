import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
// For its zod messages ("did you mean" for unknown keys), wherever a schema is used.
import './errors.js';

/**
 * Value types shared by every schema. Anything that ends up in an nginx config file is checked
 * here against a narrow character set, and the nginx driver escapes it again on the way out.
 */

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const HOSTNAME_RE = new RegExp(`^(?:\\*\\.)?(?:${LABEL}\\.)*${LABEL}$`);

export const hostnameSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(253, 'a host name is at most 253 characters')
  .regex(HOSTNAME_RE, 'not a valid host name (RFC 1123 labels, optionally "*." in front)');

export const slugSchema = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'use 1-63 lowercase letters, digits and "-"');

/** Node's timers hold at most 2^31-1 ms (~24.8 days); a longer one would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * A duration. The pattern aborts on failure: zod would otherwise run every later refinement (here
 * and in each schema built on this one) on the bad text, and one that converts it would throw (a
 * 500 where a 400 naming the field belongs).
 */
export const durationSchema = z
  .string()
  .regex(/^[1-9][0-9]{0,6}(?:ms|s|m|h)$/, {
    message: 'a duration such as 500ms, 10s, 5m or 1h',
    abort: true,
  })
  .refine((d) => durationMs(d) <= MAX_TIMER_MS, 'at most 596h');

/** Milliseconds in a duration that `durationSchema` accepted (throws on any other text). */
export function durationMs(d: string): number {
  const m = /^([0-9]+)(ms|s|m|h)$/.exec(d);
  if (!m) throw new Error(`bad duration ${d}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
}

/** A URL path prefix: starts with "/", only unreserved and sub-delimiter characters, no "$;{}\"". */
/**
 * A URL path prefix: "/" first, unreserved and sub-delimiter characters only. No "%", "//" or
 * "." / ".." segments: nginx matches locations against the decoded, normalised path, so such a prefix
 * would never match and its requests would fall through to a shorter (perhaps public) route.
 */
export const pathSchema = z
  .string()
  .max(1024)
  .regex(/^\/[A-Za-z0-9\-._~!&'()*+,=:@/]*$/, 'a path starts with "/" and uses URL characters only (no "%")')
  .refine((p) => !p.includes('//'), 'no empty segments ("//")')
  .refine((p) => !/\/\.\.?(?:\/|$)/.test(p), 'no "." or ".." segments');

export const headerNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/, 'a header name is letters, digits and "-"');

export const headerValueSchema = z
  .string()
  .max(1024)
  .regex(/^[\x20-\x7e]*$/, 'a header value is printable ASCII without control characters');

export const portSchema = z.number().int().min(1).max(65535);

export interface Endpoint {
  scheme: 'http' | 'https';
  /** An IP literal (IPv6 without brackets), or a DNS name the control plane resolves (isName). */
  host: string;
  port: number;
}

/** A DNS name in an upstream: RFC 1123 labels, no wildcard, not all digits (that is an address). */
const UPSTREAM_NAME_RE = new RegExp(`^(?:${LABEL}\\.)*${LABEL}\\.?$`);

/** Whether an endpoint names its host (resolved through upstream_resolver) rather than an IP. */
export function isNameEndpoint(e: Endpoint): boolean {
  return !isIPv4(e.host) && !isIPv6(e.host);
}

/**
 * `10.0.0.1:80`, `[fd00::1]:80`, `http://10.0.0.1:80`, `https://10.0.0.1:443`, or the same with a
 * DNS name (`authelia:9091`, `http://app.lan:8080`; docs/upstream-names.md) → parts, or an error.
 */
export function parseEndpoint(raw: string, allowScheme: boolean, allowName = true): Endpoint | string {
  let rest = raw;
  let scheme: Endpoint['scheme'] = 'http';
  const m = /^(https?):\/\/(.*)$/.exec(raw);
  if (m) {
    if (!allowScheme)
      return allowName
        ? 'a TCP upstream is IP:port or name:port, without a scheme'
        : 'a TCP upstream is IP:port, without a scheme';
    scheme = m[1] as Endpoint['scheme'];
    rest = m[2] ?? '';
  }
  let host: string;
  let portText: string;
  const v6 = /^\[([0-9a-fA-F:.]+)\]:([0-9]{1,5})$/.exec(rest);
  const v4 = /^([0-9.]+):([0-9]{1,5})$/.exec(rest);
  if (v6) {
    host = v6[1] ?? '';
    portText = v6[2] ?? '';
    if (!isIPv6(host)) return 'not a valid IPv6 address';
  } else if (v4) {
    host = v4[1] ?? '';
    portText = v4[2] ?? '';
    if (!isIPv4(host)) return 'not a valid IPv4 address';
  } else {
    const named = /^([^:[\]]+):([0-9]{1,5})$/.exec(rest);
    if (!allowName) return 'an upstream is IP:port (or http(s)://IP:port); host names are not resolved';
    const name = named?.[1]?.toLowerCase() ?? '';
    if (!named || name.length > 253 || !UPSTREAM_NAME_RE.test(name))
      return 'an upstream is IP:port or name:port (or http(s)://IP:port, http(s)://name:port)';
    // Loopback by name would reach Gatehouse's own listeners unchecked (see claims.ts): give the IP.
    if (name === 'localhost' || name === 'localhost.' || name.endsWith('.localhost'))
      return 'host names are not resolved to loopback here: give 127.0.0.1:PORT (or [::1]:PORT)';
    host = name.replace(/\.$/, '');
    portText = named[2] ?? '';
  }
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return 'port must be 1-65535';
  return { scheme, host, port };
}

export const httpUpstreamSchema = z.string().superRefine((s, ctx) => {
  const r = parseEndpoint(s, true);
  if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
});

/** `IP:port` only (a DNS server's address, say): no scheme, no name. */
export const tcpUpstreamSchema = z.string().superRefine((s, ctx) => {
  const r = parseEndpoint(s, false, false);
  if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
});

/** A TCP route's upstream: `IP:port` or `name:port` (resolved, docs/upstream-names.md). */
export const tcpRouteUpstreamSchema = z.string().superRefine((s, ctx) => {
  const r = parseEndpoint(s, false);
  if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
});

export function endpointAddress(e: Endpoint): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

/** An http(s) URL whose host is an IP literal and whose path and query use URL characters only. */
export const ipUrlSchema = z.string().superRefine((s, ctx) => {
  const m =
    /^(https?:\/\/[^/?#]+)(\/[A-Za-z0-9\-._~!&'()*+,=:@/%]*)(\?[A-Za-z0-9\-._~!&'()*+,=:@/%?]*)?$/.exec(s);
  if (!m) {
    ctx.addIssue({
      code: 'custom',
      message: 'a URL http(s)://IP:port/path (with a path) using URL characters only',
    });
    return;
  }
  const ep = parseEndpoint(m[1] ?? '', true, false);
  if (typeof ep === 'string') ctx.addIssue({ code: 'custom', message: ep });
});

/** A CIDR block or a single address, v4 or v6. */
export const cidrSchema = z.string().superRefine((s, ctx) => {
  const [addr = '', bits, extra] = s.split('/');
  const max = isIPv4(addr) ? 32 : isIPv6(addr) ? 128 : -1;
  // isIPv6 accepts zone ids ("fe80::1%lo"); nginx and allow lists do not.
  if (max < 0 || extra !== undefined || addr.includes('%')) {
    ctx.addIssue({ code: 'custom', message: 'not an IP address or CIDR block' });
    return;
  }
  if (bits !== undefined && !(/^[0-9]{1,3}$/.test(bits) && Number(bits) <= max)) {
    ctx.addIssue({ code: 'custom', message: `prefix length must be 0-${max}` });
  }
});

/** Setting `upstream_resolver` (src/dns/name-lookup.ts): the system's resolver, or one DNS server. */
export type ResolverSetting = { kind: 'system' } | { kind: 'server'; server: string };

/** `system` or a DNS server's address (port 53 when none is given) → the setting, or an error. */
export function parseResolverSetting(raw: string): ResolverSetting | string {
  const v = raw.trim();
  if (v === 'system') return { kind: 'system' };
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::([0-9]{1,5}))?$/.exec(v);
  const v4 = /^([0-9.]+)(?::([0-9]{1,5}))?$/.exec(v);
  const m = v6 ?? v4;
  const ip = m?.[1] ?? '';
  const port = Number(m?.[2] ?? '53');
  if (!m || !(v6 ? isIPv6(ip) : isIPv4(ip)) || ip.includes('%'))
    return 'system, or a DNS server as IP or IP:port (e.g. 127.0.0.1:53)';
  if (!Number.isInteger(port) || port < 1 || port > 65535) return 'port must be 1-65535';
  return { kind: 'server', server: v6 ? `[${ip}]:${port}` : `${ip}:${port}` };
}

/**
 * Set on a route (HTTP or TCP) whose upstream names resolve to nothing now (src/dns/upstream-names.ts
 * hands the compiler a copy of the service with names replaced by addresses): its pool keeps one
 * placeholder server, down, so nginx has no live peer and the offline page answers (TCP: the
 * connection is closed). A symbol: never part of a config's JSON.
 */
export const NO_LIVE_PEER: unique symbol = Symbol('no live peer');

/** Whether a route (as the compiler sees it) has no live peer: its names resolve to nothing. */
export function hasNoLivePeer(route: object): boolean {
  return (route as { [NO_LIVE_PEER]?: true })[NO_LIVE_PEER] === true;
}
