import { z } from 'zod';
import {
  cidrSchema,
  durationMs,
  durationSchema,
  headerNameSchema,
  headerValueSchema,
  hostnameSchema,
  httpUpstreamSchema,
  authUrlSchema,
  pathSchema,
  portSchema,
  slugSchema,
  tcpRouteUpstreamSchema,
} from './values.js';
import { ruleSchema } from './access-rules.js';
import { limitsSchema } from './limits.js';
import { wafSchema } from './waf.js';
import { apiKeysAccessSchema } from './api-key.js';

export { ruleSchema } from './access-rules.js';

/**
 * The service model: one schema that the REST API, the registration API, the config file, Docker
 * labels and the UI all share. Every object is strict: an unknown field is an error, never ignored.
 */

function duplicates<T>(items: T[]): T[] {
  const seen = new Set<T>();
  return items.filter((i) => (seen.has(i) ? true : (seen.add(i), false)));
}

/** Headers a rule may not touch: they are how nginx keeps the connection itself working. */
const RESERVED_HEADERS = new Set([
  'connection',
  'upgrade',
  'transfer-encoding',
  'content-length',
  'keep-alive',
]);
const settableHeaderName = headerNameSchema.refine((h) => !RESERVED_HEADERS.has(h.toLowerCase()), {
  message: 'this header is managed by the proxy and cannot be changed',
});

const headerOpsSchema = z
  .strictObject({
    set: z.record(settableHeaderName, headerValueSchema).optional(),
    delete: z.array(settableHeaderName).max(64).optional(),
  })
  .superRefine((ops, ctx) => {
    // Header names are case-insensitive: "X-A" and "x-a" would be two rules for one header.
    const names = [...Object.keys(ops.set ?? {}), ...(ops.delete ?? [])].map((n) => n.toLowerCase());
    for (const n of duplicates(names)) {
      ctx.addIssue({
        code: 'custom',
        path: ['set'],
        message: `header ${n} appears more than once (names ignore case)`,
      });
    }
  });

export const headersSchema = z.strictObject({
  request: headerOpsSchema.optional(),
  response: headerOpsSchema.optional(),
});

export const forwardAuthSchema = z.strictObject({
  url: authUrlSchema,
  // Copied headers are set on the upstream request, so the reserved ones are refused here too.
  copy_headers: z.array(settableHeaderName).max(32).default([]),
  /** The auth server's 3xx (with its Location) goes to the client as it is; without, a 3xx is a 503. */
  pass_redirects: z.boolean().optional(),
  /** A plain 401 (no Location) becomes a redirect here, with `?redirect=<the URL asked for>`. */
  login_url: z
    .url({ protocol: /^https?$/, error: 'an http(s) URL, e.g. https://login.example.com/' })
    .max(2048)
    .regex(/^[A-Za-z0-9._~:/?#@!$&'()*+,;=%-]+$/, 'URL characters only')
    .optional(),
});

export const rateLimitSchema = z
  .strictObject({
    /** Requests a client may make per `per`; also the burst it may spend at once. */
    requests: z.number().int().min(1).max(1_000_000),
    per: durationSchema.refine((d) => durationMs(d) >= 1000, 'at least 1s'),
    /** Whose bucket: the client address, or the signed-in user (anonymous requests: their address). */
    by: z.enum(['ip', 'user']).default('ip'),
  })
  .refine(
    // nginx's slowest rate is one request a minute; a slower one could not be enforced as asked.
    (r) => !/^[0-9]+(?:ms|s|m|h)$/.test(r.per) || (r.requests * 60_000) / durationMs(r.per) >= 1,
    { message: 'at least one request per minute (nginx cannot count slower)', path: ['requests'] },
  );

const loginObjectSchema = z.strictObject({
  /** Members of any of these groups pass; with none listed, any signed-in user does. */
  groups: z.array(slugSchema).max(64).default([]),
});

/** `login: true` is short for `login: {}` (any signed-in user), as people write it. */
export const loginSchema = z.preprocess(
  (v: true | z.input<typeof loginObjectSchema>) => (v === true ? {} : v),
  loginObjectSchema,
);

/** HTTP basic credentials for clients that cannot sign in (CI, scripts). */
export const basicUserSchema = z.strictObject({
  user: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, 'letters, digits and ._@- (up to 64)'),
  password_hash: z
    .string()
    .max(512)
    .regex(
      /^\$argon2id\$v=19\$m=[0-9]+,t=[0-9]+,p=[0-9]+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/,
      'an argon2id hash ($argon2id$v=19$...)',
    ),
});

export const IDENTITY_HEADER_SETS = ['remote', 'x-user'] as const;

export const accessSchema = z
  .strictObject({
    public: z.boolean().optional(),
    /** A signed-in user passes (of the listed groups, if any). */
    login: loginSchema.optional(),
    forward_auth: forwardAuthSchema.optional(),
    /** Sources that pass; alone, only they may pass. */
    ip: z.array(cidrSchema).min(1).max(256).optional(),
    /** Sign in through this OIDC provider (see /api/v1/providers) instead of local passwords. */
    provider: slugSchema.optional(),
    /** HTTP basic credentials that admit a client (checked by the gate, not inside nginx). */
    basic: z.array(basicUserSchema).min(1).max(64).optional(),
    /** Temporary links (POST /api/v1/links) may admit a visitor's address. */
    links: z.boolean().optional(),
    /** API keys (POST /api/v1/api-keys) scoped to the service pass: `true` reads Authorization: Bearer. */
    api_keys: apiKeysAccessSchema.optional(),
    /** Checked before anything else; the first that matches allows (skipping sign-in) or denies. */
    rules: z.array(ruleSchema).min(1).max(64).optional(),
    rate_limit: rateLimitSchema.optional(),
    /** Which identity headers reach the upstream: Remote-* and/or X-User-ID, X-Email, .... */
    identity_headers: z.array(z.enum(IDENTITY_HEADER_SETS)).max(2).optional(),
  })
  .superRefine((a, ctx) => {
    const admits =
      !!a.forward_auth || !!a.ip || !!a.login || !!a.links || !!a.basic || !!a.provider || !!a.api_keys;
    if (a.public === true && admits) {
      ctx.addIssue({
        code: 'custom',
        path: ['public'],
        message:
          'a public route cannot also require login, provider, links, api_keys, basic, forward_auth or ip',
      });
    }
    if (a.public === undefined && !admits) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message:
          'say who may pass: public: true, login, provider, links, api_keys, basic, ip or forward_auth',
      });
    }
    if (a.public === false && !admits) {
      ctx.addIssue({
        code: 'custom',
        path: ['public'],
        message:
          'nothing would admit a request: set public: true, login, provider, links, api_keys, basic, ip or forward_auth',
      });
    }
    if (a.rate_limit?.by === 'user' && !a.login && !a.provider) {
      ctx.addIssue({
        code: 'custom',
        path: ['rate_limit', 'by'],
        message: 'by: user needs login (or provider) on the same access',
      });
    }
    if (a.forward_auth && a.basic) {
      // Each of them is an auth_request that nginx makes; a route has room for one.
      ctx.addIssue({
        code: 'custom',
        path: ['basic'],
        message: 'basic cannot be combined with forward_auth (use one or the other)',
      });
    }
  });

export const lbSchema = z.enum(['round_robin', 'least_conn', 'ip_hash', 'first']);

export const healthSchema = z.strictObject({
  path: pathSchema,
  interval: durationSchema.default('10s'),
  timeout: durationSchema.default('2s'),
});

const RESERVED_PATHS = ['/.well-known/acme-challenge/', '/.gatehouse/', '/__gatehouse/'];

export const routeSchema = z
  .strictObject({
    path: pathSchema.default('/'),
    upstreams: z.array(httpUpstreamSchema).min(1, 'at least one upstream').max(64),
    strip_prefix: z.boolean().default(false),
    lb: lbSchema.default('round_robin'),
    health: healthSchema.optional(),
    headers: headersSchema.optional(),
    access: accessSchema.optional(),
    /** The route's own limits (instead of the service's). */
    limits: limitsSchema.optional(),
  })
  .superRefine((r, ctx) => {
    // Gatehouse answers these itself on every host (ACME challenges, the gate's pages, its checks).
    const reserved = RESERVED_PATHS.find((p) => r.path.startsWith(p));
    if (reserved) {
      ctx.addIssue({ code: 'custom', path: ['path'], message: `${reserved} is Gatehouse's own` });
    }
    const schemes = new Set(r.upstreams.map((u) => (u.startsWith('https://') ? 'https' : 'http')));
    if (schemes.size > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['upstreams'],
        message: 'upstreams of one route must all be http or all https',
      });
    }
  });

export const tcpRouteSchema = z
  .strictObject({
    port: portSchema,
    upstreams: z.array(tcpRouteUpstreamSchema).min(1, 'at least one upstream').max(64),
    lb: lbSchema.default('round_robin'),
    /** terminate: TLS ends here (the certificate of sni[0]); passthrough: routed by SNI, untouched. */
    tls: z.enum(['terminate', 'passthrough']).optional(),
    /** Names the route answers for (TLS only). */
    sni: z.array(hostnameSchema).min(1).max(100).optional(),
  })
  .superRefine((t, ctx) => {
    if (t.tls && !t.sni) {
      ctx.addIssue({ code: 'custom', path: ['sni'], message: `tls: ${t.tls} needs the names (sni)` });
    }
    if (!t.tls && t.sni) {
      ctx.addIssue({ code: 'custom', path: ['sni'], message: 'sni needs tls: terminate or passthrough' });
    }
    if (t.tls === 'terminate' && t.sni?.some((n) => n.startsWith('*.'))) {
      ctx.addIssue({
        code: 'custom',
        path: ['sni'],
        message: 'a terminated route names its host, not a wildcard',
      });
    }
  });

export const serviceSchema = z
  .strictObject({
    name: slugSchema,
    hosts: z.array(hostnameSchema).max(100).default([]),
    routes: z.array(routeSchema).max(100).default([]),
    tcp: z.array(tcpRouteSchema).max(100).default([]),
    access: accessSchema.optional(),
    /** Connection and bandwidth limits for every route without its own. */
    limits: limitsSchema.optional(),
    /** HTTPS for the hosts: auto (when a certificate covers them, with a redirect from HTTP) or none. */
    tls: z.enum(['auto', 'none']).optional(),
    /** Strict-Transport-Security on its HTTPS answers. */
    hsts: z.boolean().optional(),
    /**
     * CrowdSec's decisions apply to it (default, once crowdsec_url is set): false lets addresses
     * CrowdSec banned through (docs/crowdsec.md).
     */
    crowdsec: z.boolean().optional(),
    /** A web application firewall for every route (ModSecurity with the OWASP CRS; docs/waf.md). */
    waf: wafSchema.optional(),
    /** Which edges serve it: public ones, LAN ones, or both (default). */
    expose: z.enum(['public', 'lan', 'both']).optional(),
    /**
     * The WireGuard site it lives at (docs/sites.md): its upstreams must be inside that site's
     * subnets, which public edges reach through the tunnel. A declaration, checked on every write.
     */
    site: slugSchema.optional(),
    /**
     * Out of rotation: every upstream counts as down, so the service answers its offline page (set
     * while its agent misses heartbeats or reports it unhealthy).
     */
    suspended: z.boolean().optional(),
    /** The page shown while its upstreams are all down (a 503 with Retry-After). */
    offline_page: z
      .strictObject({
        /** Names the service on the page (default: its name). */
        title: z
          .string()
          .min(1)
          .max(100)
          .regex(/^\P{Cc}*$/u, 'a title has no control characters')
          .optional(),
        /** Replaces the default text, e.g. "Back at 10:00 after maintenance". */
        message: z
          .string()
          .min(1)
          .max(500)
          .regex(/^\P{Cc}*$/u, 'a message has no control characters')
          .optional(),
      })
      .optional(),
    /** Free-form key/values for people and sources (e.g. which template a registration used). */
    labels: z
      .record(
        z.string().regex(/^[A-Za-z0-9._/-]{1,128}$/, 'a label key is letters, digits and ._/-'),
        z
          .string()
          .max(1024)
          .regex(/^\P{Cc}*$/u, 'a label value has no control characters'),
      )
      .optional(),
  })
  .superRefine((s, ctx) => {
    if (s.routes.length === 0 && s.tcp.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['routes'],
        message: 'a service needs at least one route or tcp route',
      });
    }
    if (s.routes.length > 0 && s.hosts.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['hosts'], message: 'HTTP routes need at least one host' });
    }
    for (const h of duplicates(s.hosts)) {
      ctx.addIssue({ code: 'custom', path: ['hosts'], message: `host ${h} is listed twice` });
    }
    for (const p of duplicates(s.routes.map((r) => r.path))) {
      ctx.addIssue({ code: 'custom', path: ['routes'], message: `path ${p} is listed twice` });
    }
    for (const p of duplicates(s.tcp.map((r) => r.port))) {
      ctx.addIssue({ code: 'custom', path: ['tcp'], message: `port ${p} is listed twice` });
    }
  });

export type ServiceInput = z.input<typeof serviceSchema>;
export type Service = z.output<typeof serviceSchema>;
export type Route = z.output<typeof routeSchema>;
export type TcpRoute = z.output<typeof tcpRouteSchema>;
export type Access = z.output<typeof accessSchema>;
export type Headers = z.output<typeof headersSchema>;
export type LbMethod = z.output<typeof lbSchema>;

/** Who created a service. A source only ever changes or removes what it created itself. */
export const sourceSchema = z.enum(['api', 'register', 'docker', 'file', 'agent']);
export type Source = z.output<typeof sourceSchema>;

export interface ServiceMeta {
  source: Source;
  /**
   * Within a source, what created it: a container's name (docker), a file's path (file), an
   * agent's name (agent); empty for the API and self-registration. Only the same owner (or the
   * operator's API) changes or removes it.
   */
  owner?: string;
  created_at: string;
  updated_at: string;
}

export interface ServiceRecord {
  service: Service;
  meta: ServiceMeta;
}
