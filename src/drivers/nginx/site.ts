import { limitLines } from './limits.js';
import type { EdgeConfig, Pool, Site, SiteRoute } from '../../compile/edge-config.js';
import { indent, listen, PROXY_HEADERS, proxyHeaders, zoneName } from './common.js';
import { filePath, ident, lit, str } from './escape.js';
import { ERROR_PAGES } from './pages.js';
import { gateCheckLocation, identityHeaders, policyCheck, policyErrorPages, siteGateLines } from './gate.js';
import type { RenderEnv } from './env.js';
import { acmeLocation } from './acme.js';
import { decisionCheck } from './decisions.js';
import { wafLocation } from './waf.js';
import { poolLocationLines, poolUpstream } from './pools.js';
import {
  authLocation,
  authNamedLocations,
  authRequest,
  copied,
  forwardAuthLocations,
} from './forward-auth.js';

/** A server block for a site that needs more than the fast lane: its routes, auth and pages. */
export function siteServer(
  site: Site,
  index: number,
  cfg: EdgeConfig,
  pools: Map<string, Pool>,
  env: RenderEnv,
  tls?: { listen: string[]; extra: string[]; https: true },
): string[] {
  const gen = filePath(env.genDir);
  const lines = [
    `# site ${index}${tls ? ' (https)' : ''}: ${site.routes.map((r) => `${r.service}${r.path}`).join(', ')}`,
    'server {',
    ...(tls ? tls.listen : listen(cfg.listeners.http, env.ipv6)).map(indent),
    `    server_name ${site.hosts.map(lit).join(' ')};`,
    ...(tls ? tls.extra : []).map(indent),
    `    include ${gen}/pages.conf;`,
    ...(tls ? [] : acmeLocation().map(indent)),
  ];
  const authed = site.routes.some((r) => r.access.forwardAuth || r.access.basic);
  if (site.routes.some((r) => r.access.policy))
    lines.push(
      ...siteGateLines(
        env,
        site.routes.some((r) => r.access.apiKeys),
      ).map(indent),
    );
  site.routes.forEach((route, i) => {
    const r = tls && route.hsts ? withHsts(route) : route;
    const decisions = !!cfg.crowdsec && !route.crowdsecOff;
    lines.push(...routeLocation(r, i, pools.get(route.pool) as Pool, gen, decisions).map(indent));
  });
  if (!site.routes.some((r) => r.path === '/'))
    lines.push('    location / {', '        return 404;', '    }');
  if (authed) lines.push(...authNamedLocations(env).map(indent));
  site.routes.forEach((route, i) => {
    const fa = route.access.forwardAuth;
    if (fa) lines.push(...forwardAuthLocations(i, fa, env).map(indent));
  });
  lines.push('}', '');
  return lines;
}

/** The route with Strict-Transport-Security added to its answers (HTTPS only). */
function withHsts(route: SiteRoute): SiteRoute {
  const h = route.headers;
  if (h.responseSet.some(([n]) => n.toLowerCase() === 'strict-transport-security')) return route;
  return {
    ...route,
    headers: { ...h, responseSet: [...h.responseSet, ['Strict-Transport-Security', 'max-age=31536000']] },
  };
}

function routeLocation(route: SiteRoute, i: number, pool: Pool, gen: string, decisions: boolean): string[] {
  // CrowdSec's decisions first: a banned address is refused before anything else is asked.
  const body: string[] = decisions ? decisionCheck() : [];
  const { ip, rateLimit, policy, forwardAuth } = route.access;
  // Routes the gate's check (Lua) decides, some of whose requests need an auth_request round trip
  // (basic credentials, or an external provider beside login/links/rules): that round trip lives
  // in a named location, so requests with a session never make it.
  const slow = !!policy && (!!route.access.basic || !!forwardAuth);
  // The gate's check (Lua) decides rules, login, links and ip together; plain ip is nginx's own.
  if (policy) body.push(...policyCheck(route));
  if (slow) {
    body.push('if ($gh_verdict = "gate") {', '    return 419;', '}');
    // error_page at this level replaces the server's list, so it is repeated in full.
    body.push(...policyErrorPages(!!route.access.apiKeys), `error_page 419 = @gh_slow_${i};`, ...ERROR_PAGES);
    // nginx follows a second error_page (the slow path's own 401/503) only if the first allowed it.
    body.push('recursive_error_pages on;');
  }
  const auth = policy ? undefined : forwardAuth;
  if (ip && !policy) {
    // With forward auth too, either admits ("satisfy any"); alone, only these sources pass.
    if (auth) body.push('satisfy any;');
    for (const cidr of ip) body.push(`allow ${cidrText(cidr)};`);
    body.push('deny all;');
  }
  if (rateLimit) body.push(...rateLimitLines(rateLimit));
  body.push(...limitLines(route.limits));
  if (auth) {
    body.push(...authRequest(i, auth.copyHeaders, auth));
    // nginx follows the redirect location's own error page only if the first one allowed it (the
    // slow path's location allows it already).
    if (auth.passRedirects) body.push('recursive_error_pages on;');
  }
  const identity = route.access.identity ? identityHeaders(route).filter(([, v]) => v !== '""') : [];
  body.push(...proxyLines(route, pool, gen, auth ? copied(auth.copyHeaders) : identity));
  const lines = [`location ${lit(route.path)} {`, ...wafLocation(route, gen, body).map(indent), '}'];
  if (auth) lines.push(...authLocation(i, auth));
  if (slow) lines.push(...slowLocation(route, i, pool, gen));
  return lines;
}

/** The named location a "gate" verdict goes to: an auth_request, then the same proxying. */
function slowLocation(route: SiteRoute, i: number, pool: Pool, gen: string): string[] {
  const fa = route.access.forwardAuth;
  const copies = fa ? fa.copyHeaders : [];
  const identity: [string, string][] = fa
    ? copied(copies)
    : [
        ['Remote-User', '$gh_auth_user'],
        ['X-Username', '$gh_auth_user'],
      ];
  const rl = route.access.rateLimit;
  const body = [
    // An error_page target itself: its own answers (401, 403, 503) need another redirect.
    'recursive_error_pages on;',
    // The main location left for here in its rewrite phase, before its limit applied: apply it here.
    ...(rl ? rateLimitLines(rl) : []),
    ...limitLines(route.limits),
    ...authRequest(i, copies, fa),
    // The gate's user (basic credentials, a provider) is also the access log's `user` ($gh_user,
    // declared for guarded configs); a forward-auth server's is taken in authRequest().
    ...(fa
      ? []
      : [
          'auth_request_set $gh_auth_user $upstream_http_x_gatehouse_user;',
          'auth_request_set $gh_user $upstream_http_x_gatehouse_user;',
        ]),
    ...proxyLines(route, pool, gen, identity),
  ];
  return [
    `location @gh_slow_${i} {`,
    ...body.map(indent),
    '}',
    ...(fa ? authLocation(i, fa) : gateCheckLocation(i, route.access.policy as string)),
  ];
}

function rateLimitLines(rl: NonNullable<SiteRoute['access']['rateLimit']>): string[] {
  // nginx refuses burst=0: a bucket of one request has no burst at all.
  const burst = rl.burst > 0 ? ` burst=${rl.burst}` : '';
  return [
    // One zone per rate (see render.ts); this key part keeps routes' buckets apart.
    `set $gh_rl_scope "${ident(rl.scope)}";`,
    `set $gh_retry_after "${Math.max(1, Math.ceil(60 / rl.perMinute))}";`,
    `limit_req zone=${zoneName(rl)}${burst} nodelay;`,
  ];
}

/**
 * Request headers and proxy_pass for a route. `set` are headers whose value comes from the
 * gate or an auth answer (a client's own copy is replaced, with nothing when absent); the route's
 * own header rules win over them.
 */
function proxyLines(route: SiteRoute, pool: Pool, gen: string, set: [string, string][]): string[] {
  const body: string[] = [];
  const h = route.headers;
  const explicit = new Set([...h.requestSet.map(([n]) => n), ...h.requestDelete].map((n) => n.toLowerCase()));
  const fromAuth = set.filter(([n]) => !explicit.has(n.toLowerCase()));
  if (h.requestSet.length + h.requestDelete.length + fromAuth.length > 0) {
    // Any proxy_set_header here drops the inherited ones, so the common set comes first, less the
    // headers this route sets itself (nginx would send both).
    const own = new Set([...explicit, ...fromAuth.map(([n]) => n.toLowerCase())]);
    const overrides = PROXY_HEADERS.length !== proxyHeaders(own).length;
    body.push(...(overrides ? proxyHeaders(own) : [`include ${gen}/proxy_headers.conf;`]));
    for (const [name, variable] of fromAuth) body.push(`proxy_set_header ${lit(name)} ${variable};`);
    for (const [name, value] of h.requestSet) body.push(`proxy_set_header ${lit(name)} ${str(value)};`);
    for (const name of h.requestDelete) body.push(`proxy_set_header ${lit(name)} "";`);
  }
  for (const name of h.responseDelete) body.push(`proxy_hide_header ${lit(name)};`);
  for (const [name, value] of h.responseSet) body.push(`add_header ${lit(name)} ${str(value)} always;`);
  // The pool is a line of the Lua table (pools.ts): its peers change without a reload.
  body.push(...poolLocationLines(route));
  const upstream = poolUpstream(pool.scheme);
  if (route.stripPrefix && route.path.endsWith('/')) {
    body.push(`proxy_pass ${upstream}/;`);
  } else if (route.stripPrefix) {
    // "/api" strips from "/api" and "/api/x", not from "/apix" (which it matches as a prefix but
    // passes on whole). The path is validated to URL characters, so it is safe in a regex.
    const re = regexEscape(route.path);
    body.push(`rewrite "^${re}$" / break;`, `rewrite "^${re}(/.*)$" $1 break;`);
    body.push(`proxy_pass ${upstream};`);
  } else {
    body.push(`proxy_pass ${upstream};`);
  }
  return body;
}

/** A CIDR or address as nginx's allow takes it; validated by the model, checked again here. */
function cidrText(cidr: string): string {
  if (!/^[0-9a-fA-F.:]+(?:\/[0-9]{1,3})?$/.test(cidr)) throw new Error(`unsafe CIDR ${cidr}`);
  return cidr;
}

function regexEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
