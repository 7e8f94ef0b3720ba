import type { EdgeConfig, SiteRoute } from '../../compile/edge-config.js';
import { httpsPortPart, indent, listen } from './common.js';
import { filePath, lit } from './escape.js';
import {
  SESSION_COOKIE,
  SESSION_KEY_ENV,
  SESSION_KEY_PREVIOUS_ENV,
  type PublicOrigin,
} from '../../model/session.js';
import { acmeLocation } from './acme.js';
import type { RenderEnv } from './env.js';
import { failureLogs, securityLogs } from './access-logs.js';
import { GATE_LUA } from './gate-lua.js';
import { GATE_LIB_LUA } from './gate-lua-lib.js';
import { GATE_REVOCATIONS_LUA } from './gate-revocations-lua.js';
import { luaValue } from './lua-literal.js';

/** The status socket's path for revocations (see gate-revocations-lua.ts). */
export const REVOCATIONS_PATH = '/gate-revocations';

/** Variables the Lua check sets for a signed-in user, and the headers that carry them upstream. */
export const IDENTITY_VARS: { header: string; set: 'remote' | 'x-user'; variable: string }[] = [
  { header: 'Remote-User', set: 'remote', variable: '$gh_user' },
  { header: 'Remote-Email', set: 'remote', variable: '$gh_email' },
  { header: 'Remote-Name', set: 'remote', variable: '$gh_name' },
  { header: 'Remote-Groups', set: 'remote', variable: '$gh_groups' },
  { header: 'X-User-ID', set: 'x-user', variable: '$gh_uid' },
  { header: 'X-Username', set: 'x-user', variable: '$gh_user' },
  { header: 'X-Email', set: 'x-user', variable: '$gh_email' },
  { header: 'X-Groups', set: 'x-user', variable: '$gh_groups' },
  { header: 'X-User-First-Name', set: 'x-user', variable: '$gh_first' },
  { header: 'X-User-Last-Name', set: 'x-user', variable: '$gh_last' },
];

export function policyRoutes(cfg: EdgeConfig): SiteRoute[] {
  return cfg.sites.flatMap((s) => s.routes.filter((r) => r.access.policy));
}

/**
 * What the Lua check needs to build the portal's URL. With `public_url`, its scheme and port. Else
 * the portal's HTTPS origin when a certificate covers it (the request's own port when that came over
 * HTTPS), or plain HTTP on the request's port (on the HTTP listener's when the request was HTTPS).
 */
export function portalUrl(
  env: RenderEnv,
  cfg?: EdgeConfig,
): { host: string; public?: PublicOrigin; https?: string; http?: string } {
  const host = env.gate?.portalHost;
  if (!host) return { host: '' };
  const pub = env.gate?.publicOrigin;
  if (pub) return { host, public: pub };
  const tls = cfg?.tls.hosts.some(([h]) => h === host);
  if (tls && cfg) return { host, https: `https://${host}${httpsPortPart(cfg.listeners.https, undefined)}` };
  const http = cfg && cfg.listeners.http !== 80 ? `:${cfg.listeners.http}` : '';
  return { host, http: `http://${host}${http}` };
}

/** Main-context lines: the key's environment variable (the Lua module is loaded for the fast lane). */
export function gateMain(guarded: boolean): string[] {
  return guarded ? [`env ${SESSION_KEY_ENV};`, `env ${SESSION_KEY_PREVIOUS_ENV};`] : [];
}

/** http-context lines: the gate upstream, the check's shared memory and variables. */
export function gateHttp(env: RenderEnv, guarded: boolean): string[] {
  const lines: string[] = [];
  if (env.gate) {
    // The security log's format and condition: access-logs.ts.
    lines.push(
      'upstream gh_gate {',
      `    server unix:${filePath(env.gate.socket)} max_fails=0;`,
      '    keepalive 8;',
      '}',
    );
  }
  if (!guarded) return lines;
  lines.push(
    // Revocations (keys of tens of bytes: 100,000 fit many times over); a flag when they did not.
    'lua_shared_dict gh_revoked 32m;',
    'lua_shared_dict gh_revoked_meta 64k;',
    // Declared here so that the check (and a location's `set`) has variables to set.
    ...['policy', 'user', 'uid', 'email', 'name', 'first', 'last', 'groups'].flatMap((v) => [
      `geo $gh_${v} {`,
      '    default "";',
      '}',
    ]),
    // A browser is sent to the portal; an API client gets a 401 it can act on.
    'map $http_accept $gh_browser {',
    '    default 0;',
    '    "~*text/html" 1;',
    '}',
  );
  return lines;
}

/** Lines for init_by_lua: the check and its revocations, loaded before nginx takes traffic. */
export function gateInit(env: RenderEnv, guarded: boolean): string[] {
  if (!guarded) return [];
  const gen = filePath(env.genDir);
  const state = filePath(env.gate?.stateDir ?? '/nonexistent');
  return [
    `local gh_lib = dofile("${gen}/gate-lib.lua")`,
    `local gh_revocations = dofile("${gen}/gate-revocations.lua").init(gh_lib, "${state}")`,
    `gh_gate = dofile("${gen}/gate.lua").init(dofile("${gen}/gate-policies.lua"), gh_lib, gh_revocations)`,
    'gh_gate_revocations = gh_revocations',
  ];
}

/** The status server's location for revocations: GET their digest, POST adds, PUT replaces all. */
export function gateEndpoint(guarded: boolean): string[] {
  if (!guarded) return [];
  return [
    `location = ${REVOCATIONS_PATH} {`,
    '    client_body_buffer_size 16m;',
    '    content_by_lua_block {',
    '        gh_gate_revocations.serve()',
    '    }',
    '}',
  ];
}

/** The policy table the Lua check loads: per route id, what admits a request. */
export function policyModule(cfg: EdgeConfig, env: RenderEnv): string {
  const routes: Record<string, unknown> = {};
  for (const r of policyRoutes(cfg)) {
    const a = r.access;
    routes[a.policy as string] = {
      public: a.public,
      ...(a.login ? { login: a.login } : {}),
      ...(a.ip ? { ip: a.ip } : {}),
      ...(a.rules ? { rules: a.rules } : {}),
      ...(a.links ? { links: r.service } : {}),
      ...(a.apiKeys
        ? {
            api_keys: {
              service: r.service,
              // nginx's variable for a request header: $http_ and the name, "-" as "_".
              ...(a.apiKeys.header
                ? { var: `http_${a.apiKeys.header.replace(/-/g, '_')}`, name: a.apiKeys.header }
                : {}),
            },
          }
        : {}),
      ...(a.basic ? { basic: true } : {}),
      ...(a.forwardAuth ? { forward: true } : {}),
    };
  }
  // Every string a Lua literal with all but plain characters escaped (lua-literal.ts).
  const head = {
    portal: portalUrl(env, cfg),
    state: env.gate?.stateDir ?? '/nonexistent',
    cookie: env.gate?.cookie ?? SESSION_COOKIE,
    // Without a database, rules on countries or networks fail closed (gate-lua.ts, geo_holds).
    geoip: { country: !!env.geoip?.country, asn: !!env.geoip?.asn },
  };
  const body = Object.entries(routes).map(([id, p]) => `  [${luaValue(id)}] = ${luaValue(p)},`);
  const fields = Object.entries(head).map(([k, v]) => `  ${k} = ${luaValue(v)},`);
  return ['return {', ...fields, '  routes = {', ...body.map((l) => `  ${l}`), '  },', '}', ''].join('\n');
}

export function gateFiles(cfg: EdgeConfig, env: RenderEnv): [string, string][] {
  return [
    ['gate.lua', GATE_LUA],
    ['gate-lib.lua', GATE_LIB_LUA],
    ['gate-revocations.lua', GATE_REVOCATIONS_LUA],
    ['gate-policies.lua', policyModule(cfg, env)],
  ];
}

/** The lines at the top of a location whose route runs the gate's check. */
export function policyCheck(route: SiteRoute): string[] {
  return [
    `set $gh_policy "${route.access.policy as string}";`,
    'set_by_lua_block $gh_verdict {',
    '    return gh_gate.verdict()',
    '}',
    'if ($gh_verdict = "deny") {',
    '    return 403;',
    '}',
    'if ($gh_verdict = "login") {',
    '    return 401;',
    '}',
    // An internal code, turned into the "sign-in unavailable" 503 by the server's error_page.
    'if ($gh_verdict = "unavailable") {',
    '    return 418;',
    '}',
    // Another internal code: the 401 for an API client, which the portal redirect must not take.
    ...(route.access.apiKeys ? ['if ($gh_verdict = "bearer") {', '    return 420;', '}'] : []),
  ];
}

/** The proxy headers carrying the signed-in user for a login route. */
export function identityHeaders(route: SiteRoute): [string, string][] {
  const id = route.access.identity;
  return IDENTITY_VARS.map(({ header, set, variable }) => {
    const on = set === 'remote' ? id?.remote : id?.xUser;
    return [header, on ? variable : '""'];
  });
}

export function policyErrorPages(apiKeys: boolean): string[] {
  return [
    'error_page 401 = @gh_login;',
    'error_page 418 = @gh_login_unavailable;',
    ...(apiKeys ? ['error_page 420 = @gh_api_key;'] : []),
  ];
}

/** The internal location the slow path asks: the gate checks basic credentials for the policy. */
export function gateCheckLocation(i: number, policy: string): string[] {
  return [
    `location = /__gatehouse/auth/${i} {`,
    '    internal;',
    '    proxy_pass http://gh_gate/.gatehouse/check;',
    '    proxy_pass_request_body off;',
    '    proxy_set_header Content-Length "";',
    '    proxy_set_header Host $host;',
    '    proxy_set_header X-Real-IP $remote_addr;',
    // Only nginx sets this (the public /.gatehouse/ location clears it): the gate answers checks
    // for it alone.
    `    proxy_set_header X-Gatehouse-Check "${policy}";`,
    // The request being checked, for security events ($request_uri is raw: no line breaks).
    '    proxy_set_header X-Gatehouse-Uri $request_uri;',
    '    proxy_set_header Connection "";',
    '    proxy_connect_timeout 3s;',
    '    proxy_read_timeout 10s;',
    '}',
  ];
}

/** Server-level lines of a site with gate-checked routes. */
export function siteGateLines(env: RenderEnv, apiKeys: boolean): string[] {
  return [
    ...policyErrorPages(apiKeys),
    'location @gh_login {',
    ...securityLogs(env).map(indent),
    '    set_by_lua_block $gh_login_url {',
    '        return gh_gate.login_url()',
    '    }',
    '    if ($gh_browser) {',
    '        return 302 $gh_login_url;',
    '    }',
    '    default_type text/html;',
    '    add_header Cache-Control "no-store" always;',
    '    return 401 $gh_page_401;',
    '}',
    ...(apiKeys
      ? [
          // No API key, or one that does not open this route: a 401 a client can act on.
          'location @gh_api_key {',
          ...securityLogs(env).map(indent),
          `    add_header WWW-Authenticate 'Bearer realm="gatehouse"' always;`,
          '    add_header Cache-Control "no-store" always;',
          '    default_type text/plain;',
          '    return 401 "a valid API key is required\\n";',
          '}',
        ]
      : []),
    'location @gh_login_unavailable {',
    ...failureLogs(env).map(indent),
    '    default_type text/html;',
    '    add_header Cache-Control "no-store" always;',
    '    return 503 $gh_page_login503;',
    '}',
    // The gate's own pages on every guarded host: session hand-over, sign-out.
    'location ^~ /.gatehouse/ {',
    ...gateProxy().map(indent),
    '}',
  ];
}

function gateProxy(): string[] {
  return [
    'proxy_pass http://gh_gate;',
    // With the port: the gate compares a form's Origin with it.
    'proxy_set_header Host $http_host;',
    'proxy_set_header X-Real-IP $remote_addr;',
    'proxy_set_header X-Forwarded-Proto $scheme;',
    'proxy_set_header X-Forwarded-For "";',
    'proxy_set_header X-Gatehouse-Check "";',
    'proxy_set_header Connection "";',
    'proxy_connect_timeout 3s;',
    'proxy_read_timeout 30s;',
    // The gate down means nobody can sign in: say so, never pass.
    'proxy_intercept_errors off;',
    'error_page 502 504 = @gh_auth503;',
  ];
}

/**
 * The login portal's server blocks. With a certificate: HTTPS, and on HTTP only ACME, /verify (other
 * proxies ask it over HTTP and do not follow redirects) and a redirect for everything else.
 */
export function portalServer(
  cfg: EdgeConfig,
  env: RenderEnv,
  tls?: { listen: string[]; certs: string[] },
): string[] {
  const host = env.gate?.portalHost;
  if (!host) return [];
  const port = httpsPortPart(cfg.listeners.https, env.gate?.publicOrigin);
  const site = tls
    ? [
        '# the login portal (https)',
        'server {',
        ...tls.listen.map(indent),
        `    server_name ${lit(host)};`,
        ...tls.certs.map(indent),
        `    include ${filePath(env.genDir)}/pages.conf;`,
        '    location / {',
        ...gateProxy().map((l) => `        ${l}`),
        '    }',
        '}',
        '',
      ]
    : [];
  return [
    ...site,
    '# the login portal',
    'server {',
    ...listen(cfg.listeners.http, env.ipv6).map(indent),
    `    server_name ${lit(host)};`,
    `    include ${filePath(env.genDir)}/pages.conf;`,
    ...acmeLocation().map(indent),
    // Forward auth for other proxies: their X-Forwarded-* describe the request they guard.
    '    location = /verify {',
    '        proxy_pass http://gh_gate;',
    '        proxy_set_header Host $host;',
    '        proxy_set_header X-Real-IP $remote_addr;',
    '        proxy_set_header X-Gatehouse-Check "";',
    '        proxy_set_header Connection "";',
    '        proxy_connect_timeout 3s;',
    '        proxy_read_timeout 10s;',
    '        error_page 502 504 = @gh_auth503;',
    '    }',
    '    location / {',
    ...(tls
      ? [`        return 301 https://$host${port}$request_uri;`]
      : gateProxy().map((l) => `        ${l}`)),
    '    }',
    '}',
    '',
  ];
}
