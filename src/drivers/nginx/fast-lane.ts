import { FAST_LANE_LUA } from './fast-lane-lua.js';
import type { RenderEnv } from './env.js';
import { filePath, ident, str, UnsafeValueError } from './escape.js';
import { luaValue } from './lua-literal.js';
import type { FastEntry } from './lanes.js';
import { ERROR_PAGES, html, OFFLINE_TEXT, offlineLocation } from './pages.js';
import { POOLS_LUA } from './pools-lua.js';
import { anyServerDown, poolLine, type RoutePool } from './pools.js';
import type { RenderedFiles } from './render.js';

/**
 * The fast lane: hosts with one public "/" route are served from nginx's shared memory (see
 * fast-lane-lua.ts) through one upstream block per scheme, whose `balancer_by_lua` sets the peer
 * and whose `keepalive` pool reuses connections per peer. Every HTTP pool is in the same table
 * (pools.ts) and served through the same blocks, also for server-block sites. The table is a file
 * of its own (FAST_LANE_STATE), loaded when nginx starts or reloads; a change to it alone is sent
 * to the running nginx over the status socket, with no reload.
 */

/** The state file: its first line names its version, then one line per host. */
export const FAST_LANE_STATE = 'fast-lane.tsv';
export const FAST_LANE_PATH = '/fast-lane';
/** Idle connections kept open per worker to fast-lane upstreams (all peers together). */
const KEEPALIVE = 64;

/**
 * The socket of the fast lane's other routes (otherServer): in a directory of the prefix that
 * only nginx's workers (and root) enter (prefix.ts), so that nobody else can hand it a request
 * with a made-up X-Real-IP.
 */
export function otherSocket(env: Pick<RenderEnv, 'prefix'>): string {
  return `${env.prefix}/sock/fast-lane.sock`;
}

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\x00-\x1f\x7f]/;
const HOST = /^[a-z0-9_][a-z0-9_.-]*$/;

/** The table by key (`@pool`, or a host) → its whole line, in the state file's order. */
export type FastTable = ReadonlyMap<string, string>;

/**
 * Lines by entry: splitLanes hands back the same FastEntry, and render the same RoutePool, while
 * its route is unchanged, so at 10,000 hosts an apply escapes and checks only the new ones. The
 * keys are kept too: a string made anew would be hashed anew for every table lookup.
 */
const hostLines = new WeakMap<FastEntry, { poolKey: string; line: string }>();
const poolLines = new WeakMap<RoutePool, { key: string; line: string }>();

export function hostLine(f: FastEntry): { poolKey: string; line: string } {
  const cached = hostLines.get(f);
  if (cached !== undefined) return cached;
  if (f.host.length > 253 || !HOST.test(f.host))
    throw new UnsafeValueError(`unsafe fast lane host: ${JSON.stringify(f.host)}`);
  const title = html(f.offline.title);
  const message = html(f.offline.message ?? '');
  if (CONTROL.test(title) || CONTROL.test(message))
    throw new UnsafeValueError(`unsafe offline page text for ${f.host}`);
  const poolKey = `@${ident(f.pool)}`;
  const made = { poolKey, line: [f.host, f.scheme, poolKey, title, message].join('\t') };
  hostLines.set(f, made);
  return made;
}

/** A pool's key and line; made anew while the health checks have one of its servers down. */
export function poolEntry(
  p: RoutePool,
  down: ReadonlySet<string> | undefined,
): { key: string; line: string } {
  const cached = poolLines.get(p);
  const isDown = anyServerDown(p.pool, down);
  if (cached && !isDown) return cached;
  const made = { key: cached?.key ?? `@${p.name}`, line: poolLine(p.name, p.pool, p.offline, down) };
  if (!isDown) poolLines.set(p, made);
  return made;
}

/** One line per HTTP pool (pools.ts), then one `host scheme @pool title message` line per host. */
export function fastLaneTable(
  fast: FastEntry[],
  pools: RoutePool[] = [],
  down?: ReadonlySet<string>,
): Map<string, string> {
  const table = new Map<string, string>();
  for (const p of pools) {
    const { key, line } = poolEntry(p, down);
    table.set(key, line);
  }
  for (const f of fast) {
    const { poolKey: key, line } = hostLine(f);
    if (!table.has(key)) throw new UnsafeValueError(`fast lane host ${f.host}: no pool ${f.pool}`);
    table.set(f.host, line);
  }
  return table;
}

/** The state file: `# gatehouse fast lane <version>`, then the table's lines. */
export function stateText(version: string, table: FastTable): string {
  if (!/^[0-9a-f]+$/.test(version)) throw new UnsafeValueError(`unsafe fast lane version ${version}`);
  // One join, a flat string (appending built a tree of concatenations as large again).
  return [`# gatehouse fast lane ${version}`, ...table.values(), ''].join('\n');
}

export function fastLaneState(
  fast: FastEntry[],
  version: string,
  pools: RoutePool[] = [],
  down?: ReadonlySet<string>,
): string {
  return stateText(version, fastLaneTable(fast, pools, down));
}

/** The table behind each rendering's state file (render.ts), for a patch against the next one. */
const tables = new WeakMap<RenderedFiles, FastTable>();

export function rememberTable(files: RenderedFiles, table: FastTable): void {
  tables.set(files, table);
}

export function tableOf(files: RenderedFiles | undefined): FastTable | undefined {
  return files && tables.get(files);
}

/**
 * What changed in a rendering's table since the table of the rendering before it (`from`): the keys
 * set (new or changed lines) and the keys deleted. Known when render could tell without comparing
 * whole tables; a patch against `from` is then made from these keys alone (fast-lane-delta.ts).
 */
export interface TableChanges {
  from: FastTable;
  set: readonly string[];
  deleted: readonly string[];
}

const changes = new WeakMap<RenderedFiles, TableChanges>();

export function rememberChanges(files: RenderedFiles, c: TableChanges): void {
  changes.set(files, c);
}

export function changesOf(files: RenderedFiles | undefined): TableChanges | undefined {
  return files && changes.get(files);
}

/** The version a state file names (its first line), or undefined. */
export function stateVersion(state: string | undefined): string | undefined {
  return /^# gatehouse fast lane ([0-9a-f]+)\n/.exec(state ?? '')?.[1];
}

/** Main context: the Lua module (NDK first: the Lua module needs it). */
export function fastLaneMain(env: RenderEnv): string[] {
  const m = filePath(env.modulesDir);
  return [`load_module ${m}/ndk_http_module.so;`, `load_module ${m}/ngx_http_lua_module.so;`];
}

/**
 * http context: the shared dict, the table loaded from the state file, the upstream blocks.
 * `init`: other modules' lines for the one init_by_lua_block (the TLS table's).
 */
export function fastLaneHttp(env: RenderEnv, init: string[] = []): string[] {
  const gen = filePath(env.genDir);
  // The fast lane's hosts and the locations that name a pool ($gh_pool) have upstream blocks of
  // their own: the fast lane's balancer then never reads $gh_pool (a variable lookup per request).
  const upstream = (name: string, balance: string) => [
    `upstream ${name} {`,
    // A placeholder, down: a request the balancer finds no peer for is nginx's "no live
    // upstreams" (502, the offline page), never a connection to this address.
    '    server 0.0.0.1 down;',
    '    balancer_by_lua_block {',
    `        ${balance}`,
    '    }',
    `    keepalive ${KEEPALIVE};`,
    '}',
  ];
  return [
    'lua_package_path "/usr/share/lua/5.1/?.lua;;";',
    'lua_shared_dict gh_fast 32m;',
    // Passive health: failed attempts per pool and peer, seen by every worker.
    'lua_shared_dict gh_health 4m;',
    // Before nginx takes traffic (start, restart after a crash, reload): the table from the file.
    'init_by_lua_block {',
    '    require "resty.core"',
    `    gh_pools = dofile("${gen}/pools.lua")`,
    `    gh_fast = dofile("${gen}/fast-lane.lua")`,
    `    gh_fast.load("${gen}/${FAST_LANE_STATE}")`,
    `    gh_fast.other = ${luaValue(`unix:${otherSocket(env)}`)}`,
    ...init.map((l) => `    ${l}`),
    '}',
    // The fast lane's location: plain-http hosts' pools, everything else to the other routes' server.
    ...upstream('gh_fast', 'gh_fast.front()'),
    ...upstream('gh_fast_http', 'gh_fast.balance()'),
    ...upstream('gh_fast_https', 'gh_fast.balance()'),
    ...upstream('gh_pool_http', 'gh_pools.balance_location()'),
    ...upstream('gh_pool_https', 'gh_pools.balance_location()'),
    '',
  ];
}

/**
 * `fast-lane.conf`, included by every server that serves fast-lane hosts: the location that routes
 * them, with offline pages whose title and text come from the table.
 *
 * The location has no Lua of its own: the balancer of its upstream block (`gh_fast`, M.front in
 * fast-lane-lua.ts) looks the host up and sets the peer of a plain-http host's pool (most hosts).
 * Every other request (a host with an HTTPS upstream or a least_conn pool, or an unknown host) it
 * hands to the other routes' server (otherServer) over a unix socket, kept alive: those choices
 * need the rewrite phase (a scheme, a log phase, a 404), and a `set_by_lua` there for every request
 * cost ~2.5k instructions of the ~33k a request takes (bench/callgrind.ts). The offline page looks
 * its title, text and pool up on the error path only.
 */
export function fastLaneConf(logs: string[] = []): string[] {
  return [
    'location / {',
    // error_page here replaces the inherited ones: all of them, 502/504 to this lane's page.
    ...fastErrorPages(),
    // $gh_pool is named on the error path only (and by the balancer on a retry, pools-lua.ts).
    '    proxy_pass http://gh_fast;',
    '}',
    ...offlinePages(logs),
  ];
}

function fastErrorPages(): string[] {
  return ERROR_PAGES.map((l) => `    ${l.replace(/@gh_(50[24])/, '@gh_fast_$1')}`);
}

function offlinePages(logs: string[]): string[] {
  const vars = { T: '${gh_fast_title}', M: '${gh_fast_text}' };
  const fromTable = [
    // The pool: for the offline page's passive health and the failure log.
    'set_by_lua_block $gh_pool { return gh_fast.page(0) or "" }',
    'set $gh_fast_title "This service";',
    `set $gh_fast_text ${str(OFFLINE_TEXT)};`,
    'set_by_lua_block $gh_fast_title { return gh_fast.page(1) or ngx.var.gh_fast_title }',
    'set_by_lua_block $gh_fast_text { return gh_fast.page(2) or ngx.var.gh_fast_text }',
  ];
  return [
    ...offlineLocation('502', '@gh_fast_502', vars, [...fromTable, ...logs]),
    ...offlineLocation('504', '@gh_fast_504', vars, [...fromTable, ...logs]),
  ];
}

/**
 * `fast-lane-other.conf`, the location of the other routes' server (otherServer): the requests the
 * fast lane's balancer did not take. A `set_by_lua` yields the host's scheme, which picks the
 * upstream block (the balancer finds the host's entry again in the worker's cache); an unknown
 * host yields "" and a 404. Only a least_conn pool's requests (scheme `http_lc` or `https_lc`)
 * need the log phase, which releases their peer. The proxy headers pass on what the fast lane's
 * location set; `logs`: those of the offline pages, less the main log (the first hop logs the
 * request).
 */
export function fastLaneOtherConf(logs: string[] = []): string[] {
  return [
    'location / {',
    ...fastErrorPages(),
    '    set $gh_pool "";',
    '    set_by_lua_block $gh_fast_scheme { return gh_fast.route() }',
    // Most of these: nothing more to decide, and `break` skips the other tests (the block proxies
    // as the location does: nginx gives an `if` block its location's proxy_pass and error pages).
    '    if ($gh_fast_scheme = "http") {',
    '        break;',
    '    }',
    '    if ($gh_fast_scheme = "") {',
    '        return 404;',
    '    }',
    // CrowdSec's decision against the client (decisions.ts).
    '    if ($gh_fast_scheme = "denied") {',
    '        return 403;',
    '    }',
    // Literal upstreams: nginx parses a proxy_pass from a variable as a URL on every request.
    '    if ($gh_fast_scheme = "https") {',
    '        proxy_pass https://gh_fast_https;',
    '    }',
    // log_by_lua is allowed in "location if": a request in flight is released there.
    ...(['http', 'https'] as const).flatMap((s) => [
      `    if ($gh_fast_scheme = "${s}_lc") {`,
      `        proxy_pass ${s}://gh_fast_${s};`,
      '        log_by_lua_block { gh_pools.done() }',
      '    }',
    ]),
    '    proxy_pass http://gh_fast_http;',
    '}',
    ...offlinePages(logs.filter((l) => !/ gh_(main|crowdsec) /.test(l))),
  ];
}

/**
 * The fast lane's other routes: a server on a unix socket (otherSocket) that only the fast lane's
 * balancer sends to. The client's address comes from the X-Real-IP the first hop set (ip_hash and
 * the logs need it); the proxy headers are the first hop's, passed on as they came; the first hop
 * logs the request.
 */
export function otherServer(env: RenderEnv): string[] {
  const gen = filePath(env.genDir);
  return [
    "# The fast lane's other routes (fast-lane.ts), reached from its balancer only.",
    'server {',
    `    listen unix:${filePath(otherSocket(env))};`,
    '    access_log off;',
    '    set_real_ip_from unix:;',
    '    real_ip_header X-Real-IP;',
    '    real_ip_recursive off;',
    '    proxy_set_header Host $host;',
    '    proxy_set_header X-Real-IP $remote_addr;',
    '    proxy_set_header X-Forwarded-For $http_x_forwarded_for;',
    '    proxy_set_header X-Forwarded-Proto $http_x_forwarded_proto;',
    '    proxy_set_header X-Forwarded-Host $http_x_forwarded_host;',
    '    proxy_set_header Upgrade $http_upgrade;',
    '    proxy_set_header Connection $gh_connection;',
    `    include ${gen}/pages.conf;`,
    `    include ${gen}/fast-lane-other.conf;`,
    '}',
    '',
  ];
}

/** The status server's location for the table: GET its version, PUT a whole new table, PATCH lines. */
export function fastLaneEndpoint(): string[] {
  return [
    `location = ${FAST_LANE_PATH} {`,
    // The table stays in memory, not in a temp file.
    '    client_body_buffer_size 16m;',
    '    content_by_lua_block {',
    '        gh_fast.serve()',
    '    }',
    '}',
  ];
}

/** The generation's files for the fast lane; the state file's table is remembered with `files`. */
export function fastLaneFiles(
  files: RenderedFiles,
  fast: FastEntry[],
  version: string,
  pools: RoutePool[],
  down?: ReadonlySet<string>,
): void {
  tableFiles(files, version, fastLaneTable(fast, pools, down));
}

/** fastLaneFiles for a table already made (its state file's text too, when known). */
export function tableFiles(
  files: RenderedFiles,
  version: string,
  table: FastTable,
  state: string = stateText(version, table),
  logs: string[] = [],
): void {
  files.set('fast-lane.conf', fastLaneConf(logs).join('\n') + '\n');
  files.set('fast-lane-other.conf', fastLaneOtherConf(logs).join('\n') + '\n');
  files.set('fast-lane.lua', FAST_LANE_LUA);
  files.set('pools.lua', POOLS_LUA);
  files.set(FAST_LANE_STATE, state);
  rememberTable(files, table);
}
