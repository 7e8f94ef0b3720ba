import type { FastifyReply, FastifyRequest } from 'fastify';
import type { EventPlace, Gate } from './gate.js';
import { messagePage, type Brand } from './portal.js';

/**
 * Request and reply helpers for the gate's routes: pages, cookies, where a request came from and
 * went to. nginx sets X-Real-IP and X-Forwarded-Proto; nothing else is trusted.
 */

export function html(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'same-origin')
    .header(
      'content-security-policy',
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:",
    )
    .send(body);
}

export function clientIp(req: FastifyRequest): string {
  return String(req.headers['x-real-ip'] ?? req.ip ?? '');
}

export function secure(req: FastifyRequest): boolean {
  return req.headers['x-forwarded-proto'] === 'https';
}

export function hostOf(req: FastifyRequest): string {
  return String(req.headers.host ?? '')
    .replace(/:[0-9]+$/, '')
    .toLowerCase();
}

/**
 * Where a request went, for its security events: the host and the path without the query. A
 * link's path is its token: only the prefix is kept. nginx's auth subrequests name the original
 * request in X-Gatehouse-Uri (raw, so no line breaks; only nginx sets it on check requests).
 */
export function place(req: FastifyRequest): EventPlace {
  const check = req.url.startsWith('/.gatehouse/check') && req.headers['x-gatehouse-check'];
  const uri = check ? String(req.headers['x-gatehouse-uri'] ?? '') : req.url;
  const path = uri.split('?')[0] ?? '';
  const link = '/.gatehouse/link/';
  return { host: hostOf(req), path: path.startsWith(link) ? link : path };
}

/**
 * `scheme://host[:port]` for a host as the browser reaches it: `public_url`'s scheme and port, else
 * this request's (nginx passes the Host header with its port).
 */
export function originFor(gate: Gate, req: FastifyRequest, host = hostOf(req)): string {
  const pub = gate.opts.publicOrigin;
  if (pub) return `${pub.scheme}://${host}${pub.port}`;
  const port = /:[0-9]{1,5}$/.exec(String(req.headers.host ?? ''))?.[0] ?? '';
  return `${secure(req) ? 'https' : 'http'}://${host}${port}`;
}

/** Sets the session cookie for `scope` (host-only when the scope is this very host). */
export function setSessionCookie(
  gate: Gate,
  req: FastifyRequest,
  reply: FastifyReply,
  token: string,
  scope: string,
  maxAgeS: number,
): void {
  const domain = scope === hostOf(req) ? '' : `; Domain=${scope}`;
  reply.header(
    'set-cookie',
    `${gate.cookieName}=${token}${domain}; Path=/; Max-Age=${Math.max(0, Math.floor(maxAgeS))}; HttpOnly; SameSite=Lax${secure(req) ? '; Secure' : ''}`,
  );
}

/**
 * A browser's form post must come from the portal's own pages (login CSRF would sign a victim
 * into the attacker's account). The pages' referrer policy (`same-origin`) makes browsers send
 * their real Origin with them; `Origin: null` is an opaque origin (a sandboxed frame, a page that
 * hides its origin, a redirect across sites) and is refused. Clients that send no Origin at all
 * (scripts) are not browsers.
 */
export function sameOrigin(gate: Gate, req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.origin === 'null' || url.hostname.toLowerCase() !== hostOf(req)) return false;
  // Behind another proxy the browser's origin is public_url's; else it is the request's own.
  return url.origin === originFor(gate, req) || url.host === String(req.headers.host ?? '').toLowerCase();
}

/** The answer to a form post that came from another site (see `sameOrigin`). */
export function refuseCrossSiteForm(reply: FastifyReply, brand: Brand): FastifyReply {
  return html(reply, 403, messagePage(brand, 'Refused', 'This form was sent from another site.'));
}

export function query(req: FastifyRequest, name: string): string | undefined {
  const q = req.query as Record<string, unknown>;
  const v = q[name];
  return typeof v === 'string' ? v : undefined;
}

export function cookies(req: FastifyRequest, name: string): string[] {
  const header = req.headers.cookie ?? '';
  return header
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p.startsWith(`${name}=`))
    .map((p) => p.slice(name.length + 1))
    .filter((v) => v !== '');
}
