import { geoipHttp, geoipMain } from './geoip.js';
import { connectionZones } from './limits.js';
import type { EdgeConfig, Pool, Site } from '../../compile/edge-config.js';
import { filePath, ident } from './escape.js';
import { indent, listen, PROXY_HEADER_MAPS, PROXY_HEADERS, zoneName } from './common.js';
import { wildcardCover, type FastEntry } from './lanes.js';
import { fastLaneEndpoint, fastLaneHttp, fastLaneMain, otherServer } from './fast-lane.js';
import {
  assembleFiles,
  buildTable,
  contribution,
  fixedPools,
  poolRefs,
  renderIncremental,
  type ConfFiles,
  type RenderMemo,
} from './render-memo.js';
import { pagesConf, pageVariables } from './pages.js';
import { failureLogHttp, failureLogs, mainLogs, mainLogFormat, securityLogHttp } from './access-logs.js';
import { siteServer } from './site.js';
import {
  crowdsecLogFormat,
  decisionsEndpoint,
  decisionsHttp,
  decisionsInit,
  decisionsWorker,
} from './decisions.js';
import { DECISIONS_LUA } from './decisions-lua.js';
import { wafFiles, wafMain } from './waf.js';
import { gateEndpoint, gateFiles, gateHttp, gateInit, gateMain, policyRoutes, portalServer } from './gate.js';
import { httpsRedirect, tlsHttpPreamble, tlsPlan, tlsServers, type TlsPlan } from './tls.js';
import { tlsCertLines, tlsEndpoint, tlsFiles, tlsHttp, tlsInit } from './tls-dynamic.js';
import { acmeLocation, acmeMap } from './acme.js';
import { streamBody } from './stream.js';
import { envKey, snapshot } from './render-diff.js';
import type { RenderEnv } from './env.js';

/** Relative path → file content. */
export type RenderedFiles = Map<string, string>;

/**
 * EdgeConfig → nginx configuration files. Pure: same input, same bytes.
 *
 * Layout, chosen to keep the config compact at 10,000 hosts (nginx parses server blocks and upstream
 * blocks slowly at that scale, upstream blocks in O(n²); a map entry costs one line and is looked up
 * in a hash):
 * - the "fast lane": a host with one public "/" route and nothing else is a line in a table in
 *   nginx's shared memory (fast-lane.ts), served by the default server;
 * - every HTTP pool is a line of the same table (pools.ts): its servers, balancing and down servers
 *   (suspended, active health). Every route, fast lane or server block, proxies through one
 *   upstream block per scheme whose Lua balancer picks the pool's peer (with retries and passive
 *   health shared by all workers) and whose keepalive pool reuses connections;
 * - every other site gets a server block naming its routes' pools.
 * A change to the table alone (hosts of the fast lane, pools) reaches nginx without a reload.
 * TCP routes keep an nginx upstream block per pool in the stream context (a change reloads).
 */
export function renderNginx(cfg: EdgeConfig, env: RenderEnv): RenderedFiles {
  const key = envKey(env);
  const memo = memos.get(key);
  memos.delete(key);
  if (memo) {
    try {
      const made = renderIncremental(memo, cfg, env, renderConf);
      if (made) {
        memos.set(key, memo);
        lastMode = made.conf ? 'conf' : 'table';
        return made.files;
      }
    } catch {
      // The full rendering below throws what is wrong, as it always has.
    }
  }
  const { files, memo: made } = renderFull(cfg, env);
  memos.set(key, made);
  // The oldest environments' memos go (a driver renders for one generation at a time).
  for (const k of memos.keys()) if (memos.size > MAX_MEMOS) memos.delete(k);
  lastMode = 'full';
  return files;
}

/** renderNginx without the memo: every file made anew (tests compare the two). */
export function renderNginxFull(cfg: EdgeConfig, env: RenderEnv): RenderedFiles {
  return renderFull(cfg, env).files;
}

/**
 * How the last renderNginx was made (tests and benchmarks): in full, or from the one before it,
 * with its table changed (`table`) and its other files made again too (`conf`).
 */
export type RenderMode = 'full' | 'table' | 'conf';

export function lastRenderMode(): RenderMode | undefined {
  return lastMode;
}

/** What the last rendering per environment keeps for the next (render-memo.ts). */
const memos = new Map<string, RenderMemo>();
const MAX_MEMOS = 4;
let lastMode: RenderMode | undefined;

function renderFull(cfg: EdgeConfig, env: RenderEnv): { files: RenderedFiles; memo: RenderMemo } {
  const pools = new Map(cfg.pools.map((p) => [p.id, p]));
  const covered = wildcardCover(cfg.sites);
  const contribs = cfg.sites.map((s) => contribution(s, pools, covered));
  const fast: FastEntry[] = [];
  const full: Site[] = [];
  for (const c of contribs) {
    for (const f of c.fast) fast.push(f);
    if (c.full) full.push(c.full);
  }
  // The table's pools: one per route (routePool), sorted by name.
  const { refs, sorted } = poolRefs(contribs);
  const plan = tlsPlan(cfg);
  const conf = renderConf(cfg, env, fast, full, pools, plan);
  const table = buildTable(sorted, contribs, env.down);
  const files = assembleFiles(conf, cfg.hash, table);
  const memo: RenderMemo = {
    // A copy: the health checks change their set in place.
    down: env.down ? new Set(env.down) : undefined,
    cfg: snapshot(cfg),
    contribs,
    pools,
    fixedPools: fixedPools(cfg, full),
    covered,
    refs,
    names: sorted.map((r) => r.rp.name),
    poolLines: sorted.map((r) => r.line),
    plan,
    files,
    table,
  };
  return { files, memo };
}

/**
 * Every file but the table's: nginx.conf and those before the table's files (`head`), and those
 * after (`tail`). Of the sites, only the server blocks (`full`) and the fast-lane hosts with a
 * certificate count: a site in the fast lane alone has no rate limit and no policy.
 */
export function renderConf(
  cfg: EdgeConfig,
  env: RenderEnv,
  fast: FastEntry[],
  full: Site[],
  pools: Map<string, Pool>,
  plan: TlsPlan,
): ConfFiles {
  // CrowdSec's decisions: checked, and its access log written beside the main one (access-logs.ts).
  const crowdsec = !!cfg.crowdsec;
  if (crowdsec) env = { ...env, crowdsecLog: true };
  const own = { ...cfg, sites: full };
  // On HTTP, a host with a certificate only redirects: its own server block leaves it out.
  const httpSites = full
    .map((s) => ({ ...s, hosts: s.hosts.filter((h) => !plan.certOf.has(h)) }))
    .filter((s) => s.hosts.length > 0);

  const guarded = policyRoutes(own).length > 0;
  // The access log's `user`: the gate's (guarded routes) or a forward-auth server's.
  const forwardAuth = full.some((s) => s.routes.some((r) => r.access.forwardAuth));
  const http: string[] = [];
  // Hosts named in server blocks or host maps (a fast-lane host only where it has a certificate).
  const named = [
    ...full.flatMap((s) => s.hosts),
    ...fast.map((f) => f.host).filter((h) => plan.certOf.has(h)),
  ];
  http.push(...httpPreamble(env, own, named, guarded, forwardAuth));
  http.push(...failureLogHttp(env), ...securityLogHttp(env));
  http.push(...gateHttp(env, guarded));
  http.push(...tlsHttpPreamble(plan));
  http.push(...acmeMap(cfg));
  http.push(
    '',
    ...tlsHttp(cfg.tls.certs.length),
    ...(crowdsec ? decisionsHttp() : []),
    ...fastLaneHttp(env, [
      ...tlsInit(env),
      ...gateInit(env, guarded),
      ...(crowdsec ? decisionsInit(env) : []),
    ]),
    ...(crowdsec ? decisionsWorker() : []),
  );
  http.push(...defaultServer(cfg, env));
  http.push(...otherServer(env));
  const portalHttps = env.gate?.portalHost ? plan.certOf.has(env.gate.portalHost) : false;
  http.push(
    ...portalServer(
      cfg,
      env,
      portalHttps
        ? { listen: listen(cfg.listeners.https, env.ipv6, ' ssl'), certs: tlsCertLines(env) }
        : undefined,
    ),
  );
  httpSites.forEach((site, i) => http.push(...siteServer(site, i, cfg, pools, env)));
  http.push(...httpsRedirect(cfg, env, plan, env.gate?.portalHost));
  http.push(...tlsServers(cfg, env, plan, fast, full, pools));
  http.push(...statusServer(env, guarded, crowdsec));

  const main: string[] = [
    // The config's hash is in the fast lane's state file: this file stays as it is when only that changes.
    '# Generated by Gatehouse. Do not edit: changes are detected and overwritten.',
    `load_module ${filePath(env.modulesDir)}/ngx_stream_module.so;`,
    ...geoipMain(env),
    ...wafMain(env, full),
    ...fastLaneMain(env),
    ...gateMain(guarded),
    `worker_processes ${env.workers};`,
    // Old workers left by a reload close what they still hold (WebSockets, TCP routes) at this deadline.
    `worker_shutdown_timeout ${env.workerShutdownSeconds ?? 300}s;`,
    `pid ${filePath(env.prefix)}/run/nginx.pid;`,
    `error_log ${filePath(env.prefix)}/logs/error.log warn;`,
    'events { worker_connections 4096; }',
    '',
    'http {',
    ...http.map(indent),
    '}',
  ];
  if (cfg.tcp.length > 0) main.push('', 'stream {', ...streamBody(cfg, pools, env).map(indent), '}');
  return {
    head: [
      ['nginx.conf', main.join('\n') + '\n'],
      ['proxy_headers.conf', PROXY_HEADERS.join('\n') + '\n'],
      ['pages.conf', pagesConf(env).join('\n') + '\n'],
    ],
    tail: [
      ...tlsFiles(plan),
      ...(guarded ? gateFiles(own, env) : []),
      ...(crowdsec ? ([['decisions.lua', DECISIONS_LUA]] as [string, string][]) : []),
      ...wafFiles(full, env),
    ],
    fastLaneLogs: failureLogs(env),
  };
}

/**
 * `named`: every host named in a server block or host map; `guarded`: the gate's check runs;
 * `forwardAuth`: some route asks a forward-auth server (which may name the user).
 */
function httpPreamble(
  env: RenderEnv,
  cfg: EdgeConfig,
  named: string[],
  guarded: boolean,
  forwardAuth: boolean,
): string[] {
  const names = named.length;
  // A bucket must hold the longest name (host names go up to 253 characters).
  const longest = Math.max(0, ...named.map((h) => h.length));
  let bucket = 128;
  while (bucket < longest + 48) bucket *= 2;
  const p = filePath(env.prefix);
  return [
    'server_tokens off;',
    'default_type application/octet-stream;',
    // JSON lines for the access log reader (access-logs.ts; its cost: docs/observability.md).
    ...geoipHttp(env),
    ...mainLogFormat(guarded || forwardAuth, !!env.geoip?.country),
    ...(env.crowdsecLog ? [crowdsecLogFormat()] : []),
    // Without the gate's variables, the forward-auth answer's user needs one of its own.
    ...(forwardAuth && !guarded ? ['geo $gh_user {', '    default "";', '}'] : []),
    ...mainLogs(env),
    `client_body_temp_path ${p}/tmp/body;`,
    `proxy_temp_path ${p}/tmp/proxy;`,
    `fastcgi_temp_path ${p}/tmp/fastcgi;`,
    `uwsgi_temp_path ${p}/tmp/uwsgi;`,
    `scgi_temp_path ${p}/tmp/scgi;`,
    'sendfile on;',
    'tcp_nodelay on;',
    'keepalive_timeout 65s;',
    'client_max_body_size 0;',
    // Hash sizes grow with the number of names so that nginx finds a table on the first tries.
    `server_names_hash_max_size ${hashSize(names)};`,
    `server_names_hash_bucket_size ${bucket};`,
    `map_hash_max_size ${hashSize(names)};`,
    `map_hash_bucket_size ${bucket};`,
    'proxy_http_version 1.1;',
    'proxy_connect_timeout 5s;',
    // Long enough for WebSockets and long-polls; Traefik and Caddy do not time these out at all.
    'proxy_read_timeout 3600s;',
    'proxy_send_timeout 3600s;',
    // TLS to upstreams: send the client's host name as SNI (upstreams are IP literals).
    'proxy_ssl_server_name on;',
    'proxy_ssl_name $host;',
    // An upstream must not send a request on to another location (X-Accel-Redirect): that location
    // would reuse the access verdict already made for this request, not make its own.
    'proxy_ignore_headers X-Accel-Redirect;',
    ...PROXY_HEADER_MAPS,
    // nginx has no escape for "$" in strings it expands; this variable's value is a literal "$".
    'geo $gh_dollar {',
    '    default "$";',
    '}',
    ...PROXY_HEADERS,
    ...pageVariables(),
    ...realIp(env.trustedProxies ?? []),
    ...rateZones(cfg),
    ...connectionZones(cfg),
    '',
  ];
}

function hashSize(n: number): number {
  let size = 1024;
  while (size < n * 2) size *= 2;
  return size;
}

/** Error pages every server block includes: named locations answering with the page variables. */
function defaultServer(cfg: EdgeConfig, env: RenderEnv): string[] {
  return [
    'server {',
    ...listen(cfg.listeners.http, env.ipv6, ' default_server').map(indent),
    '    server_name _;',
    `    include ${filePath(env.genDir)}/pages.conf;`,
    ...acmeLocation().map(indent),
    `    include ${filePath(env.genDir)}/fast-lane.conf;`,
    '}',
    '',
  ];
}

function statusServer(env: RenderEnv, guarded: boolean, crowdsec: boolean): string[] {
  return [
    '# Gatehouse asks this socket which config is live after a reload, and sends the fast lane and revocations here.',
    'server {',
    `    listen unix:${filePath(env.statusSocket)};`,
    '    access_log off;',
    '    location = /version {',
    `        return 200 "${ident(env.generation)}";`,
    '    }',
    ...fastLaneEndpoint().map(indent),
    ...tlsEndpoint().map(indent),
    ...gateEndpoint(guarded).map(indent),
    ...(crowdsec ? decisionsEndpoint() : []).map(indent),
    // nginx's connection counts, read by the traffic metrics (observe/traffic-connections.ts).
    '    location = /stub_status {',
    '        stub_status;',
    '    }',
    '    location / {',
    '        return 404;',
    '    }',
    '}',
  ];
}

/** The client address comes from X-Forwarded-For only when a trusted proxy sent it. */
function realIp(proxies: string[]): string[] {
  if (proxies.length === 0) return [];
  return [
    ...proxies.map((p) => `set_real_ip_from ${cidrArg(p)};`),
    'real_ip_header X-Forwarded-For;',
    'real_ip_recursive on;',
  ];
}

/**
 * One limit_req zone per distinct rate, keyed by client address and route (the route's part is set
 * in its location), so 10,000 rate-limited routes do not mean 10,000 shared-memory zones.
 */
function rateZones(cfg: EdgeConfig): string[] {
  const limits = cfg.sites.flatMap((s) =>
    s.routes.flatMap((r) => (r.access.rateLimit ? [r.access.rateLimit] : [])),
  );
  const zones = new Map<string, number>();
  for (const l of limits) zones.set(zoneName(l), l.perMinute);
  // Declared here (a location's `set` overrides them) because the 429 page reads the first.
  const declared = [
    'geo $gh_retry_after {',
    '    default "60";',
    '}',
    'geo $gh_rl_scope {',
    '    default "";',
    '}',
  ];
  if (zones.size === 0) return declared;
  const byUser = limits.some((l) => l.byUser);
  return [
    ...declared,
    'limit_req_status 429;',
    // Per user: the signed-in user (set by the gate's check before limits apply), else the address.
    ...(byUser
      ? ['map $gh_user $gh_rl_user {', '    "" $binary_remote_addr;', '    default "u:$gh_user";', '}']
      : []),
    ...[...zones]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, pm]) => {
        const who = name.startsWith('gh_rlu_') ? '$gh_rl_user' : '$binary_remote_addr';
        return `limit_req_zone "${who}$gh_rl_scope" zone=${name}:1m rate=${pm}r/m;`;
      }),
  ];
}

function cidrArg(cidr: string): string {
  if (!/^[0-9a-fA-F.:]+(?:\/[0-9]{1,3})?$/.test(cidr)) throw new Error(`unsafe CIDR ${cidr}`);
  return cidr;
}
