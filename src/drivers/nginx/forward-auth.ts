import type { SiteRoute } from '../../compile/edge-config.js';
import { securityLogs } from './access-logs.js';
import { indent } from './common.js';
import type { RenderEnv } from './env.js';
import { headerVar, str } from './escape.js';
import { STRIPPED_IDENTITY_HEADERS } from './identity-headers.js';
import { luaValue } from './lua-literal.js';
import { ERROR_PAGES } from './pages.js';

/**
 * Forward auth (`access.forward_auth`): nginx's auth_request to an external server, the headers
 * copied from its answer, and what its refusals become: a 401 with a Location is a redirect there,
 * a 3xx is passed on when the route asks (`pass_redirects`), a plain 401 goes to `login_url` when
 * there is one. Anything else from it (5xx, no answer) is the "sign-in unavailable" 503.
 */

type ForwardAuth = NonNullable<SiteRoute['access']['forwardAuth']>;

/**
 * The auth_request target. A URL that named its host (docs/upstream-names.md) comes with an address
 * and the Host header `name:port`; a name that resolves to nothing: 503 without asking anyone, which
 * auth_request turns into the "sign-in unavailable" page (fail closed).
 */
export function authLocation(i: number, fa: ForwardAuth): string[] {
  if (fa.down) return [`location = /__gatehouse/auth/${i} {`, '    internal;', '    return 503;', '}'];
  return [
    `location = /__gatehouse/auth/${i} {`,
    '    internal;',
    '    proxy_pass_request_body off;',
    '    proxy_set_header Content-Length "";',
    `    proxy_set_header Host ${fa.host === undefined ? '$proxy_host' : str(fa.host)};`,
    // HTTPS to a named auth server: its name in SNI, as for proxy_pass https://name:port.
    ...(fa.host !== undefined && fa.url.startsWith('https:')
      ? [`    proxy_ssl_name ${str(fa.host.replace(/:[0-9]+$/, ''))};`]
      : []),
    '    proxy_set_header X-Original-URL $scheme://$host$request_uri;',
    '    proxy_set_header X-Original-URI $request_uri;',
    '    proxy_set_header X-Original-Method $request_method;',
    '    proxy_set_header X-Forwarded-Method $request_method;',
    '    proxy_set_header X-Forwarded-Proto $scheme;',
    '    proxy_set_header X-Forwarded-Host $host;',
    '    proxy_set_header X-Forwarded-Uri $request_uri;',
    '    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    '    proxy_set_header X-Real-IP $remote_addr;',
    '    proxy_set_header Connection "";',
    // The auth server decides who this is: a client's own identity headers must not tell it.
    ...STRIPPED_IDENTITY_HEADERS.map((h) => `    proxy_set_header ${h} "";`),
    '    proxy_connect_timeout 3s;',
    '    proxy_read_timeout 10s;',
    `    proxy_pass ${str(fa.url)};`,
    '}',
  ];
}

export function authNamedLocations(env: RenderEnv): string[] {
  return [
    'location @gh_unauthorized {',
    // A refusal: the security log takes it (access-logs.ts).
    ...securityLogs(env).map(indent),
    '    if ($gh_auth_location != "") {',
    '        return 302 $gh_auth_location;',
    '    }',
    // nginx itself carries the auth answer's WWW-Authenticate over to this 401.
    '    default_type text/html;',
    '    add_header Cache-Control "no-store" always;',
    '    return 401 $gh_page_401;',
    '}',
  ];
}

/** Headers set from an external auth answer: the variables authRequest() captured. */
export function copied(names: string[]): [string, string][] {
  return names.map((name, k) => [name, `$gh_copy_${k}`]);
}

/**
 * Headers in which forward-auth servers name the user (Authelia, oauth2-proxy, Authentik, others):
 * the first of these the route copies, else Remote-User, is the access log's `user`.
 */
const USER_HEADERS = [
  'remote-user',
  'x-auth-request-user',
  'x-authentik-username',
  'x-forwarded-user',
  'x-remote-user',
  'x-username',
  'x-user',
];

function userHeader(copyHeaders: string[]): string {
  const copied = new Set(copyHeaders.map((h) => h.toLowerCase()));
  return USER_HEADERS.find((h) => copied.has(h)) ?? 'remote-user';
}

/**
 * An auth_request to location `i`; `fa`: an external server's, which may name the user, pass its
 * redirects on, or send a plain 401 to a login URL (each in a named location of the route's own).
 */
export function authRequest(i: number, copyHeaders: string[], fa?: ForwardAuth): string[] {
  return [
    `auth_request /__gatehouse/auth/${i};`,
    'auth_request_set $gh_auth_location $upstream_http_location;',
    ...(fa?.passRedirects ? ['auth_request_set $gh_auth_status $upstream_status;'] : []),
    ...copyHeaders.map((name, k) => `auth_request_set $gh_copy_${k} $upstream_http_${headerVar(name)};`),
    ...(fa ? [`auth_request_set $gh_user $upstream_http_${headerVar(userHeader(copyHeaders))};`] : []),
    // error_page at this level replaces the server's list, so it is repeated in full.
    `error_page 401 = ${fa?.loginUrl ? `@gh_unauthorized_${i}` : '@gh_unauthorized'};`,
    // auth_request answers 500 for any status but 2xx, 401 and 403: a 3xx among them.
    `error_page 500 = ${fa?.passRedirects ? `@gh_auth_redirect_${i}` : '@gh_auth503'};`,
    ...ERROR_PAGES,
  ];
}

/** A 3xx from the auth server: its redirect goes to the client as it is (Descope answers 307). */
function redirectLocation(i: number, env: RenderEnv): string[] {
  return [
    `location @gh_auth_redirect_${i} {`,
    ...securityLogs(env).map(indent),
    // Its own 500 (no Location, or another status) is the auth server failing: closed.
    '    error_page 500 = @gh_auth503;',
    // A relative Location stays relative, as the auth server wrote it.
    '    absolute_redirect off;',
    '    if ($gh_auth_location = "") {',
    '        return 500;',
    '    }',
    ...['301', '302', '303', '307', '308'].flatMap((code) => [
      `    if ($gh_auth_status = "${code}") {`,
      `        return ${code} $gh_auth_location;`,
      '    }',
    ]),
    '    return 500;',
    '}',
  ];
}

/** A plain 401: to the login URL with `redirect=` the URL asked for; a 401 with a Location: there. */
function loginLocation(i: number, loginUrl: string, env: RenderEnv): string[] {
  const join = loginUrl.includes('?') ? '&' : '?';
  return [
    `location @gh_unauthorized_${i} {`,
    ...securityLogs(env).map(indent),
    '    if ($gh_auth_location != "") {',
    '        return 302 $gh_auth_location;',
    '    }',
    '    set_by_lua_block $gh_auth_login {',
    `        return ${luaValue(loginUrl + join + 'redirect=')} .. ngx.escape_uri(ngx.var.scheme .. "://" .. ngx.var.host .. ngx.var.request_uri)`,
    '    }',
    '    add_header Cache-Control "no-store" always;',
    '    return 302 $gh_auth_login;',
    '}',
  ];
}

/** The named locations a route's forward auth needs beyond the site's shared ones. */
export function forwardAuthLocations(i: number, fa: ForwardAuth, env: RenderEnv): string[] {
  return [
    ...(fa.passRedirects ? redirectLocation(i, env) : []),
    ...(fa.loginUrl ? loginLocation(i, fa.loginUrl, env) : []),
  ];
}
