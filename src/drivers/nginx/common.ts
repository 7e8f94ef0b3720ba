/** Pieces shared by the nginx renderer's files. */
import { STRIPPED_IDENTITY_HEADERS } from './identity-headers.js';
import { SESSION_COOKIE, type PublicOrigin } from '../../model/session.js';

/** The forwarding headers every proxied request carries (repeated where a location sets its own). */
const BASE_HEADERS: [string, string][] = [
  ['Host', '$host'],
  ['X-Real-IP', '$remote_addr'],
  ['X-Forwarded-For', '$proxy_add_x_forwarded_for'],
  ['X-Forwarded-Proto', '$scheme'],
  ['X-Forwarded-Host', '$host'],
  ['Upgrade', '$http_upgrade'],
  ['Connection', '$gh_connection'],
  ['Cookie', '$gh_cookie'],
  // Identity headers only the gate may set (its own and other auth proxies'): a client's copies
  // never reach an upstream.
  ...STRIPPED_IDENTITY_HEADERS.map((h): [string, string] => [h, '""']),
];

/** The common set, less the headers a route sets or deletes itself (names compared case-blind). */
export function proxyHeaders(except: ReadonlySet<string> = new Set()): string[] {
  return BASE_HEADERS.filter(([name]) => !except.has(name.toLowerCase())).map(
    ([name, value]) => `proxy_set_header ${name} ${value};`,
  );
}

export const PROXY_HEADERS = proxyHeaders();

/** http-context maps the common headers use ($gh_cookie, $gh_connection). */
export const PROXY_HEADER_MAPS = [
  // The session cookie is the gate's: no upstream sees it (one would otherwise hold every
  // visitor's session). Removed twice, for a request that carries two.
  'map $http_cookie $gh_cookie_1 {',
  '    default $http_cookie;',
  // No cookie (most API and health traffic): found in the map's hash, no regular expression run.
  '    "" "";',
  `    "~^(?<gh_c1>(?:[^;]*;)*?) ?${SESSION_COOKIE}=[^;]*;?(?<gh_c2>.*)$" "$gh_c1$gh_c2";`,
  '}',
  'map $gh_cookie_1 $gh_cookie {',
  '    default $gh_cookie_1;',
  '    "" "";',
  `    "~^(?<gh_c3>(?:[^;]*;)*?) ?${SESSION_COOKIE}=[^;]*;?(?<gh_c4>.*)$" "$gh_c3$gh_c4";`,
  '}',
  'map $http_upgrade $gh_connection {',
  '    default upgrade;',
  '    "" "";',
  '}',
];

export function indent(line: string): string {
  return line === '' ? '' : `    ${line}`;
}

/** `listen` lines for a port: IPv4, and IPv6 too when the machine has it. */
export function listen(port: number, ipv6: boolean | undefined, extra = ''): string[] {
  const lines = [`listen ${port}${extra};`];
  if (ipv6) lines.push(`listen [::]:${port}${extra};`);
  return lines;
}

/** One limit_req zone per rate and kind of key (address or user). */
export function zoneName(l: { perMinute: number; byUser?: boolean }): string {
  return `${l.byUser ? 'gh_rlu_' : 'gh_rl_'}${l.perMinute}`;
}

/**
 * The port part (`""` or `":8443"`) of an HTTPS URL as clients use it: public_url's when that is
 * HTTPS (a port mapping in front), else the HTTPS listener's.
 */
export function httpsPortPart(listener: number, pub: PublicOrigin | undefined): string {
  if (pub?.scheme === 'https') return pub.port;
  return listener === 443 ? '' : `:${listener}`;
}
