import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, REGISTER_TOKEN, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, freePort, http, type Res, type TestServer } from '../helpers/net.js';

/**
 * Malformed input to both APIs. Every case must get its exact 4xx with `{error:{code,message}}`
 * naming the field at fault, and change nothing: not the registry (version, records), not the
 * generated nginx config, not what the proxy serves.
 */

interface Ports {
  http: number;
  api: number;
  register: number;
  /** The TCP route of the `stream` baseline service. */
  tcp: number;
}

interface Req {
  to: 'api' | 'reg';
  method: string;
  path: string;
  /** Sent JSON-encoded. */
  body?: unknown;
  /** For bodies that depend on the listeners' ports. */
  bodyFor?: (p: Ports) => unknown;
  /** Sent as is, instead of a JSON-encoded body. */
  raw?: string;
  /** Content-Type; application/json when there is a body. `null` sends none. */
  type?: string | null;
  /** Authorization; the listener's own bearer token by default. `null` sends none. */
  auth?: string | null;
}

interface Case {
  why: string;
  req: Req;
  /** Status, error code, and the field the error must name (an issue's field, or in the message). */
  want: [status: number, code: string, names: string];
}

const UP = '127.0.0.1:9';
type Obj = Record<string, unknown>;
const route = (extra: Obj = {}): Obj => ({ path: '/', upstreams: [UP], ...extra });
/** A valid new service (checked at the end); each case breaks exactly one thing in it. */
const svc = (extra: Obj = {}): Obj => ({ name: 'fresh', hosts: ['fresh.test'], routes: [route()], ...extra });
const withRoute = (extra: Obj): Obj => svc({ routes: [route(extra)] });
const withHeaders = (headers: Obj): Obj => withRoute({ headers });
const withAuth = (forwardAuth: Obj): Obj =>
  svc({ access: { forward_auth: { url: 'http://127.0.0.1:9/verify', ...forwardAuth } } });
const tcpRoute = (extra: Obj = {}): Obj => ({ port: 18830, upstreams: [UP], ...extra });
const tcpOnly = (extra: Obj = {}): Obj => ({ name: 'fresh', tcp: [tcpRoute(extra)] });
/** A valid registration (checked at the end). */
const registration = (extra: Obj = {}): Obj => ({
  subdomain: 'fresh',
  backend_ip: '127.0.0.1',
  backend_port: 9,
  type: 'simple',
  ...extra,
});

const post = (body: unknown, extra: Partial<Req> = {}): Req => ({
  to: 'api',
  method: 'POST',
  path: '/api/v1/services',
  body,
  ...extra,
});
const raw = (text: string, type: string | null = 'application/json', path = '/api/v1/services'): Req => ({
  to: 'api',
  method: 'POST',
  path,
  raw: text,
  type,
});
const put = (name: string, body: unknown): Req => ({
  to: 'api',
  method: 'PUT',
  path: `/api/v1/services/${name}`,
  body,
});
const call = (method: string, path: string, body?: unknown): Req => ({ to: 'api', method, path, body });
const reg = (body: unknown, extra: Partial<Req> = {}): Req => ({
  to: 'reg',
  method: 'POST',
  path: '/register',
  body,
  ...extra,
});
const tcpAt = (port: (p: Ports) => number): Req =>
  post(undefined, { bodyFor: (p) => tcpOnly({ port: port(p) }) });

const BIG = 'a'.repeat(1024 * 1024 + 10);

const cases: Case[] = [
  // Authentication and routing
  { why: 'no admin token', req: post(svc(), { auth: null }), want: [401, 'unauthorized', 'admin token'] },
  {
    why: 'wrong admin token',
    req: post(svc(), { auth: 'Bearer not-the-token-000000' }),
    want: [401, 'unauthorized', 'admin token'],
  },
  {
    why: 'the registration token is not the admin token',
    req: post(svc(), { auth: `Bearer ${REGISTER_TOKEN}` }),
    want: [401, 'unauthorized', 'admin token'],
  },
  {
    why: 'Basic instead of Bearer',
    req: post(svc(), { auth: `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}` }),
    want: [401, 'unauthorized', 'admin token'],
  },
  {
    why: 'token followed by junk',
    req: post(svc(), { auth: `Bearer ${ADMIN_TOKEN} extra` }),
    want: [401, 'unauthorized', 'admin token'],
  },
  {
    why: 'PATCH is not a method of services',
    req: call('PATCH', '/api/v1/services/baseline', { hosts: ['x.test'] }),
    want: [404, 'not_found', 'PATCH /api/v1/services/baseline'],
  },
  {
    why: 'POST to a service (create is POST /services)',
    req: call('POST', '/api/v1/services/baseline', svc({ name: 'baseline' })),
    want: [404, 'not_found', 'POST /api/v1/services/baseline'],
  },
  { why: 'unknown API version', req: call('GET', '/api/v2/services'), want: [404, 'not_found', '/api/v2'] },

  // The body as a whole
  { why: 'truncated JSON', req: raw('{"name":"fresh",'), want: [400, 'bad_request', 'body'] },
  { why: 'empty body declared as JSON', req: raw(''), want: [400, 'bad_request', 'body'] },
  { why: 'JSON with a trailing comma', req: raw('{"name":"fresh",}'), want: [400, 'bad_request', 'body'] },
  {
    why: 'prototype pollution via __proto__',
    req: raw('{"name":"fresh","__proto__":{"admin":true}}'),
    want: [400, 'bad_request', 'body'],
  },
  {
    why: 'prototype pollution via constructor.prototype',
    req: raw('{"name":"fresh","constructor":{"prototype":{"admin":true}}}'),
    want: [400, 'bad_request', 'body'],
  },
  {
    why: 'form-encoded body',
    req: raw('name=fresh&hosts=fresh.test', 'application/x-www-form-urlencoded'),
    want: [415, 'unsupported_media_type', 'body'],
  },
  {
    why: 'JSON sent as text/plain',
    req: raw(JSON.stringify(svc()), 'text/plain'),
    want: [415, 'unsupported_media_type', 'body'],
  },
  {
    why: 'XML',
    req: raw('<service name="fresh"/>', 'application/xml'),
    want: [415, 'unsupported_media_type', 'body'],
  },
  {
    why: 'a body without a content type',
    req: raw(JSON.stringify(svc()), null),
    want: [415, 'unsupported_media_type', 'body'],
  },
  { why: 'no body at all', req: call('POST', '/api/v1/services'), want: [400, 'invalid', '(root)'] },
  {
    why: 'an offline page title over 100 characters',
    req: post(svc({ offline_page: { title: 'x'.repeat(101) } })),
    want: [400, 'invalid', 'offline_page.title'],
  },
  {
    why: 'an offline page message with a line break',
    req: post(svc({ offline_page: { message: 'down\nreturn 200;' } })),
    want: [400, 'invalid', 'offline_page.message'],
  },
  {
    why: 'an unknown key in the offline page',
    req: post(svc({ offline_page: { html: '<b>x</b>' } })),
    want: [400, 'invalid', 'offline_page'],
  },
  { why: 'null instead of an object', req: raw('null'), want: [400, 'invalid', '(root)'] },
  { why: 'an array instead of an object', req: post([svc()]), want: [400, 'invalid', '(root)'] },
  { why: 'a string instead of an object', req: post('fresh'), want: [400, 'invalid', '(root)'] },
  { why: 'a number instead of an object', req: post(42), want: [400, 'invalid', '(root)'] },
  {
    why: 'a body over the 1 MiB limit',
    req: post(svc({ hosts: [BIG] })),
    want: [413, 'bad_request', 'body'],
  },

  // Names
  { why: 'no name', req: post({ hosts: ['fresh.test'], routes: [route()] }), want: [400, 'invalid', 'name'] },
  { why: 'upper-case name', req: post(svc({ name: 'Fresh' })), want: [400, 'invalid', 'name'] },
  { why: 'underscore in the name', req: post(svc({ name: 'my_svc' })), want: [400, 'invalid', 'name'] },
  { why: 'path traversal as a name', req: post(svc({ name: '../etc' })), want: [400, 'invalid', 'name'] },
  { why: 'a 64-character name', req: post(svc({ name: 'a'.repeat(64) })), want: [400, 'invalid', 'name'] },
  { why: 'a number as the name', req: post(svc({ name: 42 })), want: [400, 'invalid', 'name'] },
  {
    why: 'POST of a name that exists (replace is PUT)',
    req: post(svc({ name: 'baseline' })),
    want: [409, 'conflict', 'name'],
  },

  // Unknown fields, at every level
  { why: 'unknown top-level field', req: post(svc({ colour: 'red' })), want: [400, 'invalid', 'colour'] },
  { why: 'unknown route field', req: post(withRoute({ weight: 5 })), want: [400, 'invalid', 'weight'] },
  {
    why: 'unknown field in headers',
    req: post(withHeaders({ req: { set: { 'X-A': 'b' } } })),
    want: [400, 'invalid', 'req'],
  },
  {
    why: 'unknown header operation',
    req: post(withHeaders({ request: { append: { 'X-A': 'b' } } })),
    want: [400, 'invalid', 'append'],
  },
  {
    why: 'unknown field in access',
    req: post(svc({ access: { public: true, roles: ['admin'] } })),
    want: [400, 'invalid', 'roles'],
  },
  {
    why: 'unknown field in forward_auth',
    req: post(withAuth({ timeout: '5s' })),
    want: [400, 'invalid', 'timeout'],
  },
  {
    why: 'unknown field in a health check',
    req: post(withRoute({ health: { path: '/h', method: 'HEAD' } })),
    want: [400, 'invalid', 'method'],
  },
  {
    why: 'unknown field in a TCP route',
    req: post(tcpOnly({ proto: 'udp' })),
    want: [400, 'invalid', 'proto'],
  },

  // Shape
  {
    why: 'neither routes nor tcp',
    req: post({ name: 'fresh', hosts: ['fresh.test'] }),
    want: [400, 'invalid', 'routes'],
  },
  { why: 'HTTP routes without hosts', req: post(svc({ hosts: [] })), want: [400, 'invalid', 'hosts'] },
  { why: 'hosts as a string', req: post(svc({ hosts: 'fresh.test' })), want: [400, 'invalid', 'hosts'] },
  { why: 'routes as an object', req: post(svc({ routes: route() })), want: [400, 'invalid', 'routes'] },
  {
    why: 'more than 100 hosts',
    req: post(svc({ hosts: Array.from({ length: 101 }, (_, i) => `h${i}.test`) })),
    want: [400, 'invalid', 'hosts'],
  },

  // Host names
  { why: 'unicode host name', req: post(svc({ hosts: ['bücher.test'] })), want: [400, 'invalid', 'hosts.0'] },
  {
    why: 'host name over 253 characters',
    req: post(svc({ hosts: [`${'a'.repeat(63)}.`.repeat(4) + 'test'] })),
    want: [400, 'invalid', 'hosts.0'],
  },
  {
    why: 'label over 63 characters',
    req: post(svc({ hosts: [`${'a'.repeat(64)}.test`] })),
    want: [400, 'invalid', 'hosts.0'],
  },
  {
    why: 'underscore in a host',
    req: post(svc({ hosts: ['my_app.test'] })),
    want: [400, 'invalid', 'hosts.0'],
  },
  { why: 'trailing dot', req: post(svc({ hosts: ['fresh.test.'] })), want: [400, 'invalid', 'hosts.0'] },
  { why: 'leading dot', req: post(svc({ hosts: ['.fresh.test'] })), want: [400, 'invalid', 'hosts.0'] },
  { why: 'empty label', req: post(svc({ hosts: ['fresh..test'] })), want: [400, 'invalid', 'hosts.0'] },
  {
    why: 'label starting with "-"',
    req: post(svc({ hosts: ['-fresh.test'] })),
    want: [400, 'invalid', 'hosts.0'],
  },
  {
    why: 'space inside a host',
    req: post(svc({ hosts: ['fr esh.test'] })),
    want: [400, 'invalid', 'hosts.0'],
  },
  { why: 'empty host', req: post(svc({ hosts: [''] })), want: [400, 'invalid', 'hosts.0'] },
  {
    why: 'host with a port',
    req: post(svc({ hosts: ['fresh.test:8080'] })),
    want: [400, 'invalid', 'hosts.0'],
  },
  {
    why: 'a URL as a host',
    req: post(svc({ hosts: ['http://fresh.test'] })),
    want: [400, 'invalid', 'hosts.0'],
  },
  {
    why: 'wildcard in the middle',
    req: post(svc({ hosts: ['a.*.test'] })),
    want: [400, 'invalid', 'hosts.0'],
  },
  { why: 'double wildcard', req: post(svc({ hosts: ['*.*.test'] })), want: [400, 'invalid', 'hosts.0'] },
  { why: 'a bare "*"', req: post(svc({ hosts: ['*'] })), want: [400, 'invalid', 'hosts.0'] },
  {
    why: 'a host listed twice (after lower-casing)',
    req: post(svc({ hosts: ['dup.test', 'DUP.test'] })),
    want: [400, 'invalid', 'hosts'],
  },

  // Upstreams
  {
    // A DNS name is resolved (docs/upstream-names.md); one that cannot be a DNS name is refused.
    why: 'upstream host name that is not one',
    req: post(withRoute({ upstreams: ['back_end.local:80'] })),
    want: [400, 'invalid', 'routes.0.upstreams.0'],
  },
  {
    why: 'upstream localhost',
    req: post(withRoute({ upstreams: ['localhost:80'] })),
    want: [400, 'invalid', 'routes.0.upstreams.0'],
  },
  {
    why: 'upstream port 0',
    req: post(withRoute({ upstreams: ['10.0.0.1:0'] })),
    want: [400, 'invalid', 'routes.0.upstreams.0'],
  },
  {
    why: 'upstream port 65536',
    req: post(withRoute({ upstreams: ['10.0.0.1:65536'] })),
    want: [400, 'invalid', 'routes.0.upstreams.0'],
  },
  {
    why: 'upstream without a port',
    req: post(withRoute({ upstreams: ['10.0.0.1'] })),
    want: [400, 'invalid', 'routes.0.upstreams.0'],
  },
  {
    why: 'IPv6 upstream without brackets',
    req: post(withRoute({ upstreams: ['fd00::1:8080'] })),
    want: [400, 'invalid', 'routes.0.upstreams.0'],
  },
  {
    why: 'IPv6 upstream with a zone',
    req: post(withRoute({ upstreams: ['[fe80::1%eth0]:80'] })),
    want: [400, 'invalid', 'routes.0.upstreams.0'],
  },
  {
    why: 'upstream with a path',
    req: post(withRoute({ upstreams: ['http://10.0.0.1:80/api'] })),
    want: [400, 'invalid', 'routes.0.upstreams.0'],
  },
  {
    why: 'upstream with another scheme',
    req: post(withRoute({ upstreams: ['ftp://10.0.0.1:21'] })),
    want: [400, 'invalid', 'routes.0.upstreams.0'],
  },
  {
    why: 'upstream with an impossible IPv4',
    req: post(withRoute({ upstreams: ['10.0.0.256:80'] })),
    want: [400, 'invalid', 'routes.0.upstreams.0'],
  },
  {
    why: 'a second upstream is bad',
    req: post(withRoute({ upstreams: [UP, '10.0.0.1:80:80'] })),
    want: [400, 'invalid', 'routes.0.upstreams.1'],
  },
  {
    why: 'no upstreams',
    req: post(withRoute({ upstreams: [] })),
    want: [400, 'invalid', 'routes.0.upstreams'],
  },
  {
    why: 'port number instead of an upstream',
    req: post(withRoute({ upstreams: [8080] })),
    want: [400, 'invalid', 'routes.0.upstreams.0'],
  },

  // Paths and other route fields
  { why: 'path without "/"', req: post(withRoute({ path: 'api' })), want: [400, 'invalid', 'routes.0.path'] },
  {
    why: 'path with a space',
    req: post(withRoute({ path: '/a b' })),
    want: [400, 'invalid', 'routes.0.path'],
  },
  {
    why: 'path with a query',
    req: post(withRoute({ path: '/a?b=1' })),
    want: [400, 'invalid', 'routes.0.path'],
  },
  {
    why: 'path with a fragment',
    req: post(withRoute({ path: '/a#b' })),
    want: [400, 'invalid', 'routes.0.path'],
  },
  // A prefix nginx could never match (it matches the decoded, normalised path) would let its
  // requests fall through to a shorter route, perhaps a public one.
  {
    why: 'path with a percent escape',
    req: post(withRoute({ path: '/%7Eadmin/' })),
    want: [400, 'invalid', 'routes.0.path'],
  },
  {
    why: 'path with an empty segment',
    req: post(withRoute({ path: '/x//admin/' })),
    want: [400, 'invalid', 'routes.0.path'],
  },
  {
    why: 'path with a dot segment',
    req: post(withRoute({ path: '/a/./b/' })),
    want: [400, 'invalid', 'routes.0.path'],
  },
  {
    why: 'path ending in ".."',
    req: post(withRoute({ path: '/a/..' })),
    want: [400, 'invalid', 'routes.0.path'],
  },
  {
    why: 'route access that says nothing',
    req: post(withRoute({ access: {} })),
    want: [400, 'invalid', 'routes.0.access'],
  },
  {
    why: 'ip rule that is no address',
    req: post(withRoute({ access: { ip: ['10.0.0.0/33'] } })),
    want: [400, 'invalid', 'routes.0.access.ip.0'],
  },
  {
    why: 'ip rule with an IPv6 zone id',
    req: post(withRoute({ access: { ip: ['fe80::1%lo'] } })),
    want: [400, 'invalid', 'routes.0.access.ip.0'],
  },
  {
    why: 'rate limit slower than nginx can count',
    req: post(withRoute({ access: { public: true, rate_limit: { requests: 2, per: '1h' } } })),
    want: [400, 'invalid', 'routes.0.access.rate_limit.requests'],
  },
  {
    why: 'empty ip list',
    req: post(withRoute({ access: { ip: [] } })),
    want: [400, 'invalid', 'routes.0.access.ip'],
  },
  {
    why: 'public and ip at once',
    req: post(withRoute({ access: { public: true, ip: ['10.0.0.0/8'] } })),
    want: [400, 'invalid', 'routes.0.access.public'],
  },
  {
    why: 'rate limit of zero requests',
    req: post(withRoute({ access: { public: true, rate_limit: { requests: 0, per: '1m' } } })),
    want: [400, 'invalid', 'routes.0.access.rate_limit.requests'],
  },
  {
    why: 'rate limit period under a second',
    req: post(withRoute({ access: { public: true, rate_limit: { requests: 5, per: '500ms' } } })),
    want: [400, 'invalid', 'routes.0.access.rate_limit.per'],
  },
  {
    why: 'rate limit keyed by something unknown',
    req: post(withRoute({ access: { public: true, rate_limit: { requests: 5, per: '1m', by: 'cookie' } } })),
    want: [400, 'invalid', 'routes.0.access.rate_limit.by'],
  },
  {
    why: 'forward_auth URL without a path',
    req: post(withRoute({ access: { forward_auth: { url: 'http://127.0.0.1:3000' } } })),
    want: [400, 'invalid', 'routes.0.access.forward_auth.url'],
  },
  {
    why: 'health interval beyond what a timer holds',
    req: post(withRoute({ health: { path: '/h', interval: '600h' } })),
    want: [400, 'invalid', 'routes.0.health.interval'],
  },
  {
    why: "upstream that is Gatehouse's own registration API",
    req: post(undefined, {
      bodyFor: (p) => svc({ routes: [route({ upstreams: [`127.0.0.1:${p.register}`] })] }),
    }),
    want: [409, 'conflict', 'routes.0.upstreams.0'],
  },
  {
    why: 'upstream that is the proxy itself (a loop)',
    req: post(undefined, { bodyFor: (p) => svc({ routes: [route({ upstreams: [`[::1]:${p.http}`] })] }) }),
    want: [409, 'conflict', 'routes.0.upstreams.0'],
  },
  {
    why: "forward auth to Gatehouse's own management API",
    req: post(undefined, {
      bodyFor: (p) => svc({ access: { forward_auth: { url: `http://127.0.0.1:${p.api}/api/v1/status` } } }),
    }),
    want: [409, 'conflict', 'access.forward_auth.url'],
  },
  {
    why: 'registration whose backend is the registration API itself',
    req: reg(undefined, {
      bodyFor: (p) => ({ subdomain: 'loop', backend_ip: '127.0.0.1', backend_port: p.register }),
    }),
    want: [400, 'invalid', 'body.backend_port'],
  },
  {
    why: 'registration whose backend is the management API',
    req: reg(undefined, {
      bodyFor: (p) => ({ subdomain: 'loop', backend_ip: '127.0.0.1', backend_port: p.api }),
    }),
    want: [400, 'invalid', 'body.backend_port'],
  },
  {
    why: 'path over 1024 characters',
    req: post(withRoute({ path: `/${'a'.repeat(1024)}` })),
    want: [400, 'invalid', 'routes.0.path'],
  },
  {
    why: 'one path twice in a service',
    req: post(svc({ routes: [route({ path: '/x/' }), route({ path: '/x/' })] })),
    want: [400, 'invalid', 'routes'],
  },
  { why: 'unknown lb method', req: post(withRoute({ lb: 'random' })), want: [400, 'invalid', 'routes.0.lb'] },
  {
    why: 'strip_prefix as a string',
    req: post(withRoute({ strip_prefix: 'yes' })),
    want: [400, 'invalid', 'routes.0.strip_prefix'],
  },
  {
    why: 'health interval without a unit',
    req: post(withRoute({ health: { path: '/h', interval: '10' } })),
    want: [400, 'invalid', 'routes.0.health.interval'],
  },
  {
    why: 'health path without "/"',
    req: post(withRoute({ health: { path: 'health' } })),
    want: [400, 'invalid', 'routes.0.health.path'],
  },

  // Access
  {
    why: 'public: false with nothing to admit a request',
    req: post(svc({ access: { public: false } })),
    want: [400, 'invalid', 'access.public'],
  },
  {
    why: 'public: false on a route, without auth',
    req: post(withRoute({ access: { public: false } })),
    want: [400, 'invalid', 'routes.0.access.public'],
  },
  {
    why: 'public and forward_auth at once',
    req: post(svc({ access: { public: true, forward_auth: { url: 'http://127.0.0.1:9/verify' } } })),
    want: [400, 'invalid', 'access.public'],
  },
  {
    why: 'forward_auth URL with a host name',
    req: post(withAuth({ url: 'http://auth.local:3000/verify' })),
    want: [400, 'invalid', 'access.forward_auth.url'],
  },
  {
    why: 'forward_auth URL without a port',
    req: post(withAuth({ url: 'http://10.0.0.5/verify' })),
    want: [400, 'invalid', 'access.forward_auth.url'],
  },
  {
    why: 'forward_auth to a file',
    req: post(withAuth({ url: 'file:///etc/passwd' })),
    want: [400, 'invalid', 'access.forward_auth.url'],
  },
  {
    why: 'copy_headers with a space in a name',
    req: post(withAuth({ copy_headers: ['X Token'] })),
    want: [400, 'invalid', 'access.forward_auth.copy_headers.0'],
  },
  {
    why: 'copy_headers of Content-Length (would let the auth answer frame the request)',
    req: post(withAuth({ copy_headers: ['Content-Length'] })),
    want: [400, 'invalid', 'access.forward_auth.copy_headers.0'],
  },

  // Header rules
  {
    why: 'header name with CR LF',
    req: post(withHeaders({ request: { set: { 'X-A\r\nX-Injected': '1' } } })),
    want: [400, 'invalid', 'routes.0.headers.request.set.X-A\r\nX-Injected'],
  },
  {
    why: 'header value with LF',
    req: post(withHeaders({ request: { set: { 'X-A': 'a\nX-Injected: 1' } } })),
    want: [400, 'invalid', 'routes.0.headers.request.set.X-A'],
  },
  {
    why: 'header value with CR',
    req: post(withHeaders({ response: { set: { 'X-A': 'a\rb' } } })),
    want: [400, 'invalid', 'routes.0.headers.response.set.X-A'],
  },
  {
    why: 'header value with NUL',
    req: post(withHeaders({ request: { set: { 'X-A': 'a\u0000b' } } })),
    want: [400, 'invalid', 'routes.0.headers.request.set.X-A'],
  },
  {
    why: 'header value with DEL',
    req: post(withHeaders({ request: { set: { 'X-A': 'a\u007fb' } } })),
    want: [400, 'invalid', 'routes.0.headers.request.set.X-A'],
  },
  {
    why: 'header value outside ASCII',
    req: post(withHeaders({ request: { set: { 'X-A': 'café' } } })),
    want: [400, 'invalid', 'routes.0.headers.request.set.X-A'],
  },
  {
    why: 'header value over 1024 characters',
    req: post(withHeaders({ request: { set: { 'X-A': 'v'.repeat(1025) } } })),
    want: [400, 'invalid', 'routes.0.headers.request.set.X-A'],
  },
  {
    why: 'header value as a number',
    req: post(withHeaders({ request: { set: { 'X-A': 1 } } })),
    want: [400, 'invalid', 'routes.0.headers.request.set.X-A'],
  },
  {
    why: 'header name with ";"',
    req: post(withHeaders({ request: { set: { 'X-A;': 'b' } } })),
    want: [400, 'invalid', 'routes.0.headers.request.set.X-A;'],
  },
  {
    why: 'header name with "{"',
    req: post(withHeaders({ response: { set: { 'X-{A}': 'b' } } })),
    want: [400, 'invalid', 'routes.0.headers.response.set.X-{A}'],
  },
  {
    why: 'header name with ":"',
    req: post(withHeaders({ request: { set: { 'X-A:': 'b' } } })),
    want: [400, 'invalid', 'routes.0.headers.request.set.X-A:'],
  },
  {
    why: 'header name with a quote',
    req: post(withHeaders({ response: { set: { 'X-"A"': 'b' } } })),
    want: [400, 'invalid', 'routes.0.headers.response.set.X-"A"'],
  },
  {
    why: 'empty header name',
    req: post(withHeaders({ request: { set: { '': 'b' } } })),
    want: [400, 'invalid', 'routes.0.headers.request.set'],
  },
  {
    why: 'setting a hop-by-hop header the proxy manages',
    req: post(withHeaders({ request: { set: { 'Transfer-Encoding': 'chunked' } } })),
    want: [400, 'invalid', 'routes.0.headers.request.set.Transfer-Encoding'],
  },
  {
    why: 'deleting Connection',
    req: post(withHeaders({ request: { delete: ['Connection'] } })),
    want: [400, 'invalid', 'routes.0.headers.request.delete.0'],
  },
  {
    why: 'delete of a name with NUL',
    req: post(withHeaders({ response: { delete: ['Server\u0000'] } })),
    want: [400, 'invalid', 'routes.0.headers.response.delete.0'],
  },

  // Labels
  {
    why: 'label key with a space',
    req: post(svc({ labels: { 'my team': 'ops' } })),
    want: [400, 'invalid', 'labels.my team'],
  },
  {
    why: 'label value over 1024 characters',
    req: post(svc({ labels: { team: 'x'.repeat(1025) } })),
    want: [400, 'invalid', 'labels.team'],
  },
  {
    why: 'label value as a number',
    req: post(svc({ labels: { team: 7 } })),
    want: [400, 'invalid', 'labels.team'],
  },

  // TCP routes
  { why: 'TCP port 0', req: post(tcpOnly({ port: 0 })), want: [400, 'invalid', 'tcp.0.port'] },
  { why: 'TCP port 65536', req: post(tcpOnly({ port: 65536 })), want: [400, 'invalid', 'tcp.0.port'] },
  {
    why: 'TCP port as a string',
    req: post(tcpOnly({ port: '18830' })),
    want: [400, 'invalid', 'tcp.0.port'],
  },
  { why: 'fractional TCP port', req: post(tcpOnly({ port: 1883.5 })), want: [400, 'invalid', 'tcp.0.port'] },
  {
    why: 'TCP upstream with a scheme',
    req: post(tcpOnly({ upstreams: ['http://10.0.0.1:80'] })),
    want: [400, 'invalid', 'tcp.0.upstreams.0'],
  },
  {
    why: 'TCP upstream IPv6 without brackets',
    req: post(tcpOnly({ upstreams: ['::1:1883'] })),
    want: [400, 'invalid', 'tcp.0.upstreams.0'],
  },
  {
    why: 'one TCP port twice in a service',
    req: post({ name: 'fresh', tcp: [tcpRoute(), tcpRoute({ upstreams: ['127.0.0.1:10'] })] }),
    want: [400, 'invalid', 'tcp'],
  },
  {
    why: 'TCP route on the proxy HTTP port',
    req: tcpAt((p) => p.http),
    want: [409, 'conflict', 'tcp.0.port'],
  },
  { why: 'TCP route on the API port', req: tcpAt((p) => p.api), want: [409, 'conflict', 'tcp.0.port'] },
  {
    why: 'TCP route on the registration port',
    req: tcpAt((p) => p.register),
    want: [409, 'conflict', 'tcp.0.port'],
  },
  {
    why: 'TCP port another service routes',
    req: tcpAt((p) => p.tcp),
    want: [409, 'conflict', 'tcp.0.port'],
  },

  // Claims across services
  {
    why: 'host + path another service claims',
    req: post(svc({ hosts: ['base.test'] })),
    want: [409, 'conflict', 'routes.0.path'],
  },
  {
    why: 'the same claim in upper case',
    req: post(svc({ hosts: ['BASE.TEST'] })),
    want: [409, 'conflict', 'routes.0.path'],
  },
  {
    why: 'the same claim with blanks around the host',
    req: post(svc({ hosts: [' base.test '] })),
    want: [409, 'conflict', 'routes.0.path'],
  },
  {
    why: 'a claimed non-root path, as the second route',
    req: post(svc({ hosts: ['base.test'], routes: [route({ path: '/other/' }), route({ path: '/api/' })] })),
    want: [409, 'conflict', 'routes.1.path'],
  },
  {
    why: 'PUT that moves a service onto a claimed host',
    req: put('stream', svc({ name: 'stream', hosts: ['base.test'] })),
    want: [409, 'conflict', 'routes.0.path'],
  },

  // PUT and DELETE
  {
    why: 'PUT of a bad upstream into an existing service',
    req: put(
      'baseline',
      svc({ name: 'baseline', hosts: ['base.test'], routes: [route({ upstreams: ['x_y:1'] })] }),
    ),
    want: [400, 'invalid', 'routes.0.upstreams.0'],
  },
  {
    why: 'PUT with a name other than the URL',
    req: put('baseline', svc({ name: 'other' })),
    want: [400, 'invalid', 'name'],
  },
  { why: 'PUT to a bad name', req: put('Bad_Name', svc()), want: [400, 'invalid', 'params.name'] },
  { why: 'PUT of an array', req: put('baseline', [svc()]), want: [400, 'invalid', '(root)'] },
  {
    why: 'PUT of null',
    req: { ...put('baseline', undefined), raw: 'null' },
    want: [400, 'invalid', '(root)'],
  },
  {
    why: 'DELETE of a service that does not exist',
    req: call('DELETE', '/api/v1/services/nope'),
    want: [404, 'not_found', 'service nope'],
  },
  {
    why: 'DELETE of a bad name',
    req: call('DELETE', '/api/v1/services/NOPE'),
    want: [400, 'invalid', 'params.name'],
  },
  {
    why: 'DELETE with force=yes',
    req: call('DELETE', '/api/v1/services/baseline?force=yes'),
    want: [400, 'invalid', 'query.force'],
  },
  {
    why: 'DELETE with wait given twice',
    req: call('DELETE', '/api/v1/services/baseline?wait=true&wait=false'),
    want: [400, 'invalid', 'query.wait'],
  },
  {
    why: 'DELETE with an unknown query parameter',
    req: call('DELETE', '/api/v1/services/baseline?cascade=1'),
    want: [400, 'invalid', 'cascade'],
  },
  {
    why: 'valid service, bad wait parameter',
    req: post(svc(), { path: '/api/v1/services?wait=maybe' }),
    want: [400, 'invalid', 'query.wait'],
  },

  // Snapshots
  {
    why: 'snapshot "abc"',
    req: call('GET', '/api/v1/snapshots/abc'),
    want: [400, 'invalid', 'params.version'],
  },
  { why: 'snapshot -1', req: call('GET', '/api/v1/snapshots/-1'), want: [400, 'invalid', 'params.version'] },
  {
    why: 'snapshot 1.5',
    req: call('GET', '/api/v1/snapshots/1.5'),
    want: [400, 'invalid', 'params.version'],
  },
  {
    why: 'snapshot " "',
    req: call('GET', '/api/v1/snapshots/%20'),
    want: [400, 'invalid', 'params.version'],
  },
  {
    why: 'snapshot 0x1',
    req: call('GET', '/api/v1/snapshots/0x1'),
    want: [400, 'invalid', 'params.version'],
  },
  {
    why: 'snapshot that does not exist',
    req: call('GET', '/api/v1/snapshots/99999'),
    want: [404, 'not_found', 'snapshot 99999'],
  },
  { why: 'limit=0', req: call('GET', '/api/v1/snapshots?limit=0'), want: [400, 'invalid', 'query.limit'] },
  {
    why: 'limit=5000',
    req: call('GET', '/api/v1/snapshots?limit=5000'),
    want: [400, 'invalid', 'query.limit'],
  },
  {
    why: 'limit=abc',
    req: call('GET', '/api/v1/snapshots?limit=abc'),
    want: [400, 'invalid', 'query.limit'],
  },
  { why: 'limit=', req: call('GET', '/api/v1/snapshots?limit='), want: [400, 'invalid', 'query.limit'] },
  { why: 'before=0', req: call('GET', '/api/v1/snapshots?before=0'), want: [400, 'invalid', 'query.before'] },
  {
    why: 'unknown snapshots parameter',
    req: call('GET', '/api/v1/snapshots?sort=asc'),
    want: [400, 'invalid', 'sort'],
  },
  {
    why: 'diff without from',
    req: call('GET', '/api/v1/snapshots/diff'),
    want: [400, 'invalid', 'query.from'],
  },
  {
    why: 'diff with from=',
    req: call('GET', '/api/v1/snapshots/diff?from='),
    want: [400, 'invalid', 'query.from'],
  },
  {
    why: 'diff with from=1e1',
    req: call('GET', '/api/v1/snapshots/diff?from=1e1'),
    want: [400, 'invalid', 'query.from'],
  },
  {
    why: 'diff to a version that does not exist',
    req: call('GET', '/api/v1/snapshots/diff?from=1&to=99999'),
    want: [404, 'not_found', 'snapshot 99999'],
  },
  {
    why: 'rollback to a future version',
    req: call('POST', '/api/v1/snapshots/99999/rollback'),
    want: [400, 'invalid', 'version'],
  },
  {
    why: 'rollback to "abc"',
    req: call('POST', '/api/v1/snapshots/abc/rollback'),
    want: [400, 'invalid', 'params.version'],
  },
  {
    why: 'rollback with force as a string',
    req: call('POST', '/api/v1/snapshots/1/rollback', { force: 'yes' }),
    want: [400, 'invalid', 'body.force'],
  },
  {
    why: 'rollback with an unknown field',
    req: call('POST', '/api/v1/snapshots/1/rollback', { dry_run: true }),
    want: [400, 'invalid', 'dry_run'],
  },
  {
    why: 'rollback with an array body',
    req: call('POST', '/api/v1/snapshots/1/rollback', []),
    want: [400, 'invalid', 'body'],
  },
  {
    why: 'rollback with a text/plain body',
    req: raw('{}', 'text/plain', '/api/v1/snapshots/1/rollback'),
    want: [415, 'unsupported_media_type', 'body'],
  },
  {
    why: 'rollback to version 0 would drop every route',
    req: call('POST', '/api/v1/snapshots/0/rollback'),
    want: [409, 'would_drop_all_routes', 'force'],
  },

  // Registration API
  {
    why: 'registration without a token',
    req: reg(registration(), { auth: null }),
    want: [401, 'unauthorized', 'token'],
  },
  {
    why: 'registration with the admin token',
    req: reg(registration(), { auth: `Bearer ${ADMIN_TOKEN}` }),
    want: [401, 'unauthorized', 'token'],
  },
  {
    why: 'registration token in the query string',
    req: reg(registration(), { auth: null, path: `/register?token=${REGISTER_TOKEN}` }),
    want: [401, 'unauthorized', 'token'],
  },
  {
    why: 'listing registrations without a token',
    req: { to: 'reg', method: 'GET', path: '/routes', auth: null },
    want: [401, 'unauthorized', 'token'],
  },
  {
    why: 'upper-case subdomain',
    req: reg(registration({ subdomain: 'Fresh' })),
    want: [400, 'invalid', 'body.subdomain'],
  },
  {
    why: 'dotted subdomain',
    req: reg(registration({ subdomain: 'a.b' })),
    want: [400, 'invalid', 'body.subdomain'],
  },
  {
    why: 'underscore in the subdomain',
    req: reg(registration({ subdomain: 'a_b' })),
    want: [400, 'invalid', 'body.subdomain'],
  },
  {
    why: '64-character subdomain',
    req: reg(registration({ subdomain: 's'.repeat(64) })),
    want: [400, 'invalid', 'body.subdomain'],
  },
  {
    why: 'empty subdomain',
    req: reg(registration({ subdomain: '' })),
    want: [400, 'invalid', 'body.subdomain'],
  },
  {
    why: 'no subdomain',
    req: reg({ backend_ip: '127.0.0.1', backend_port: 9 }),
    want: [400, 'invalid', 'body.subdomain'],
  },
  {
    why: 'backend_ip as a host name',
    req: reg(registration({ backend_ip: 'backend.local' })),
    want: [400, 'invalid', 'body.backend_ip'],
  },
  {
    why: 'backend_ip with a port',
    req: reg(registration({ backend_ip: '10.0.0.1:80' })),
    want: [400, 'invalid', 'body.backend_ip'],
  },
  {
    why: 'impossible backend_ip',
    req: reg(registration({ backend_ip: '10.0.0.256' })),
    want: [400, 'invalid', 'body.backend_ip'],
  },
  {
    why: 'bracketed IPv6 backend_ip',
    req: reg(registration({ backend_ip: '[::1]' })),
    want: [400, 'invalid', 'body.backend_ip'],
  },
  {
    why: 'IPv6 backend_ip with a zone',
    req: reg(registration({ backend_ip: 'fe80::1%lo' })),
    want: [400, 'invalid', 'body.backend_ip'],
  },
  {
    why: 'no backend_ip',
    req: reg({ subdomain: 'fresh', backend_port: 9 }),
    want: [400, 'invalid', 'body.backend_ip'],
  },
  {
    why: 'simple without backend_port',
    req: reg({ subdomain: 'fresh', backend_ip: '127.0.0.1', type: 'simple' }),
    want: [400, 'invalid', 'body.backend_port'],
  },
  {
    why: 'backend_port 0',
    req: reg(registration({ backend_port: 0 })),
    want: [400, 'invalid', 'body.backend_port'],
  },
  {
    why: 'backend_port 70000',
    req: reg(registration({ backend_port: 70000 })),
    want: [400, 'invalid', 'body.backend_port'],
  },
  {
    why: 'backend_port as a string',
    req: reg(registration({ backend_port: '8080' })),
    want: [400, 'invalid', 'body.backend_port'],
  },
  { why: 'unknown template', req: reg(registration({ type: 'nope' })), want: [400, 'invalid', 'body.type'] },
  {
    why: 'upper-case template',
    req: reg(registration({ type: 'Full' })),
    want: [400, 'invalid', 'body.type'],
  },
  {
    why: 'unknown registration field',
    req: reg(registration({ weight: 1 })),
    want: [400, 'invalid', 'weight'],
  },
  {
    why: 'registration that is not JSON',
    req: { ...reg(undefined), raw: 'subdomain=fresh' },
    want: [400, 'bad_request', 'body'],
  },
  { why: 'registration as an array', req: reg([registration()]), want: [400, 'invalid', 'body'] },
  {
    why: 'registration as text/plain',
    req: { ...reg(undefined), raw: JSON.stringify(registration()), type: 'text/plain' },
    want: [415, 'unsupported_media_type', 'body'],
  },
  {
    why: 'registration over the 64 KiB limit',
    req: reg(registration({ subdomain: 'x'.repeat(70_000) })),
    want: [413, 'bad_request', 'body'],
  },
  {
    why: 'registering over a service the operator owns',
    req: reg(registration({ subdomain: 'baseline' })),
    want: [409, 'conflict', 'body.subdomain'],
  },
  {
    why: 'registering a host another service claims',
    req: reg(registration({ subdomain: 'taken' })),
    want: [409, 'conflict', 'taken.gw.test'],
  },
  {
    why: 'deregistering an unknown subdomain',
    req: reg({ subdomain: 'nope' }, { path: '/deregister' }),
    want: [404, 'not_found', 'nope'],
  },
  {
    why: 'deregistering a service the operator owns',
    req: reg({ subdomain: 'baseline' }, { path: '/deregister' }),
    want: [404, 'not_found', 'baseline'],
  },
  {
    why: 'deregistering a bad subdomain',
    req: reg({ subdomain: 'Reg1' }, { path: '/deregister' }),
    want: [400, 'invalid', 'body.subdomain'],
  },
  {
    why: 'deregistering with an unknown field',
    req: reg({ subdomain: 'reg1', all: true }, { path: '/deregister' }),
    want: [400, 'invalid', 'all'],
  },
  {
    why: 'GET /register',
    req: { to: 'reg', method: 'GET', path: '/register' },
    want: [404, 'not_found', 'GET /register'],
  },
  {
    why: 'an agent registration with a bad domain',
    req: reg(
      { name: 'vmx', domains: ['bad host'], upstreams: ['127.0.0.1:9'] },
      { path: '/agent/v1/register' },
    ),
    want: [400, 'invalid', 'domains.0'],
  },
  {
    why: 'an agent registration with a TTL that is not a duration',
    req: reg(
      { name: 'vmx', domains: ['vmx.test'], upstreams: ['127.0.0.1:9'], ttl: 'soon' },
      { path: '/agent/v1/register' },
    ),
    want: [400, 'invalid', 'ttl'],
  },
  {
    why: 'an agent registration with an upstream that is not IP:port',
    req: reg({ name: 'vmx', domains: ['vmx.test'], upstreams: ['nowhere'] }, { path: '/agent/v1/register' }),
    want: [400, 'invalid', 'upstreams.0'],
  },
  {
    why: 'a heartbeat for an agent that never registered',
    req: reg({ name: 'ghost' }, { path: '/agent/v1/heartbeat' }),
    want: [404, 'not_registered', 'name'],
  },
  {
    why: 'an agent registration without the registration token',
    req: reg(
      { name: 'vmx', domains: ['vmx.test'], upstreams: ['127.0.0.1:9'] },
      { path: '/agent/v1/register', auth: null },
    ),
    want: [401, 'unauthorized', 'token'],
  },
];

interface ErrorBody {
  error: { code: string; message: string; issues?: { field: string; message: string }[] };
}

/** Whether the error names `field`: as an issue's field, as an unknown key, or in the message. */
function names(err: ErrorBody['error'], field: string): boolean {
  if (err.issues?.some((i) => i.field === field || i.message.includes(`"${field}"`))) return true;
  return err.message.includes(field);
}

/** Everything a bad request must leave as it was. */
interface World {
  version: number;
  services: unknown;
  conf: string;
  generation: string | undefined;
  served: { status: number; body: string }[];
}

describe('bad input changes nothing', () => {
  let t: TestGatehouse;
  let backend: TestServer;
  let ports: Ports;
  let before: World;

  const send = (r: Req): Promise<Res> => {
    const headers: Record<string, string> = {};
    const token = r.to === 'api' ? ADMIN_TOKEN : REGISTER_TOKEN;
    if (r.auth !== null) headers.authorization = r.auth ?? `Bearer ${token}`;
    const json = r.bodyFor ? r.bodyFor(ports) : r.body;
    const body = r.raw ?? (json === undefined ? undefined : JSON.stringify(json));
    const type = r.type === undefined ? (body === undefined ? null : 'application/json') : r.type;
    if (type !== null) headers['content-type'] = type;
    const port = r.to === 'api' ? t.apiPort : t.registerPort;
    return http(port, '127.0.0.1', r.path, { method: r.method, headers, body });
  };

  const world = async (): Promise<World> => {
    const status = await t.api('GET', '/api/v1/status');
    const services = await t.api('GET', '/api/v1/services');
    const probe = async (res: Promise<Res>) => {
      const { status: s, body } = await res;
      return { status: s, body };
    };
    return {
      version: Number(status.json.version),
      services: services.json,
      conf: await readFile(join(t.dataDir, 'nginx', 'current', 'nginx.conf'), 'utf8'),
      generation: t.gh.edge.getStatus().generation,
      served: [
        await probe(t.get('base.test', '/probe?x=1')),
        await probe(t.get('taken.gw.test', '/api/probe')),
        await probe(t.get('reg1.gw.test', '/probe')),
        // The TCP route, through the nginx stream module to the same HTTP backend.
        await probe(http(ports.tcp, 'stream.test', '/probe')),
      ],
    };
  };

  beforeAll(async () => {
    t = await startTestGatehouse();
    backend = await echoBackend('baseline');
    ports = { http: t.httpPort, api: t.apiPort, register: t.registerPort, tcp: await freePort() };
    const up = `127.0.0.1:${backend.port}`;
    const a = await t.api('PUT', '/api/v1/services/baseline', {
      hosts: ['base.test', 'taken.gw.test'],
      routes: [
        { path: '/', upstreams: [up] },
        { path: '/api/', upstreams: [up], headers: { request: { set: { 'X-Route': 'api' } } } },
      ],
    });
    expect(a.status, a.body).toBe(201);
    const b = await t.api('PUT', '/api/v1/services/stream', { tcp: [{ port: ports.tcp, upstreams: [up] }] });
    expect(b.status, b.body).toBe(201);
    const c = await t.reg('POST', '/register', {
      subdomain: 'reg1',
      backend_ip: '127.0.0.1',
      backend_port: backend.port,
    });
    expect(c.status, c.body).toBe(201);
    await t.gh.edge.waitFor(Number(c.json.version));
    before = await world();
    for (const s of before.served) expect(s.status, s.body).toBe(200);
    expect(JSON.parse(before.served[1]?.body ?? '{}')).toMatchObject({ headers: { 'x-route': 'api' } });
  });
  afterAll(async () => {
    await t?.close();
    await backend?.close();
  });

  it('has a case for every kind of fault', () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
    expect(new Set(cases.map((c) => c.why)).size).toBe(cases.length);
  });

  it.each(cases)('$why', async ({ req, want: [status, code, field] }) => {
    const res = await send(req);
    expect(res.status, res.body).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(res.body) as ErrorBody;
    expect(Object.keys(body)).toEqual(['error']);
    expect(body.error).toMatchObject({ code, message: expect.any(String) });
    expect(names(body.error, field), `${JSON.stringify(field)} not named in ${res.body}`).toBe(true);
    expect(await world()).toEqual(before);
  });

  it('has still changed nothing once the edge has had time to act', async () => {
    await new Promise((r) => setTimeout(r, 300));
    expect(await world()).toEqual(before);
    const edge = t.gh.edge.getStatus();
    expect(edge.appliedVersion).toBe(before.version);
    expect(edge.lastError).toBeUndefined();
  });

  // Last, since it changes the registry: the bodies the cases start from are valid, so each case
  // failed for its own fault only.
  it('accepts the unbroken bodies the cases are built from', async () => {
    const created = async (r: Req) => {
      const res = await send(r);
      expect(res.status, res.body).toBe(201);
    };
    await created(reg(registration()));
    expect((await send(reg({ subdomain: 'fresh' }, { path: '/deregister' }))).status).toBe(200);
    await created(post(svc()));
    await created(post({ ...tcpOnly(), name: 'fresh-tcp' }));
    await created(
      post({ ...withAuth({ copy_headers: ['X-Token'] }), name: 'fresh-auth', hosts: ['auth.test'] }),
    );
  });
});
