import type { EdgeConfig, Pool, Site, SiteRoute } from '../../compile/edge-config.js';
import type { RenderEnv } from './env.js';
import {
  hostLine,
  poolEntry,
  rememberChanges,
  rememberTable,
  tableFiles,
  FAST_LANE_STATE,
  type FastTable,
} from './fast-lane.js';
import { siteLane, type FastEntry } from './lanes.js';
import { LayeredTable } from './layered-table.js';
import { routePoolOf, type RoutePool } from './pools.js';
import type { RenderedFiles } from './render.js';
import { tlsPlan, type TlsPlan } from './tls.js';
import { sameDown, sameShell, sameSite, samePool, snapshot } from './render-diff.js';
import { UnsafeValueError } from './escape.js';

/**
 * Incremental rendering. At 10,000 sites a full rendering costs tens of milliseconds, nearly all of
 * it spent on sites that did not change. A rendering keeps what it made of each site (its
 * Contribution) and of each table pool; the next rendering with the same environment walks the
 * two site lists. The table is the one before with the keys of the sites that differ set or
 * deleted (LayeredTable, with TableChanges for a patch). When those sites are fast-lane sites only
 * (no server block, no host with a certificate) and the config-wide parts (listeners, TLS, ACME,
 * TCP) are the same, every other file is the one before; else those files are made again from
 * the kept lanes (renderConf). A wildcard host (it changes other sites' lanes), another
 * environment or many changes mean a full rendering.
 */

/** What one site makes: its lanes, its routes' table pools, its hosts' table lines. */
export interface Contribution {
  fast: FastEntry[];
  full: Site | undefined;
  routePools: RoutePool[];
  /** Table lines of `fast`, in order (set when the table is made). */
  lines: string[];
}

/** A table pool, with how many routes of sites name it (the same route in several sites counts each). */
export interface PoolRef {
  rp: RoutePool;
  count: number;
  line: string;
}

/** What a rendering keeps for the next. Owned by the memo: nothing a rendering returns holds these. */
export interface RenderMemo {
  /** The servers down when it was made: a copy (the health checks change their set in place). */
  down: ReadonlySet<string> | undefined;
  /** The config it was made for (snapshot: its arrays copied; its pools are `pools`). */
  cfg: EdgeConfig;
  contribs: Contribution[];
  pools: Map<string, Pool>;
  /** Pool ids that server blocks or TCP routes name: a change to one changes nginx.conf. */
  fixedPools: Set<string>;
  covered: (host: string) => boolean;
  refs: Map<string, PoolRef>;
  /** Table pool names, sorted, and their lines. */
  names: string[];
  poolLines: string[];
  plan: TlsPlan;
  files: RenderedFiles;
  table: FastTable;
}

const NO_LINES: string[] = [];

export function contribution(
  site: Site,
  pools: ReadonlyMap<string, Pool>,
  covered: (host: string) => boolean,
): Contribution {
  const lane = siteLane(site, pools, covered);
  const routes = site.routes;
  // One route mostly: no map() closure for it.
  const routePools =
    routes.length === 1
      ? [routePoolOf(routes[0] as SiteRoute, pools.get((routes[0] as SiteRoute).pool) as Pool)]
      : routes.map((r) => routePoolOf(r, pools.get(r.pool) as Pool));
  return { fast: lane.fast, full: lane.full, routePools, lines: NO_LINES };
}

/** The table pools of `contribs`, counted, sorted by name (full rendering). */
export function poolRefs(contribs: Contribution[]): { refs: Map<string, PoolRef>; sorted: PoolRef[] } {
  const refs = new Map<string, PoolRef>();
  for (const c of contribs) {
    for (const rp of c.routePools) {
      const ref = refs.get(rp.name);
      if (ref) {
        ref.count++;
        ref.rp = rp;
      } else refs.set(rp.name, { rp, count: 1, line: '' });
    }
  }
  const sorted = [...refs.values()].sort((x, y) => cmp(x.rp.name, y.rp.name));
  return { refs, sorted };
}

/** The table: pool lines by name, then host lines in site order (fastLaneTable's, kept per site). */
export function buildTable(
  sorted: PoolRef[],
  contribs: Contribution[],
  down: ReadonlySet<string> | undefined,
): Map<string, string> {
  const table = new Map<string, string>();
  for (const ref of sorted) {
    const { key, line } = poolEntry(ref.rp, down);
    ref.line = line;
    table.set(key, line);
  }
  const add = (f: FastEntry): string => {
    const { poolKey, line } = hostLine(f);
    if (!table.has(poolKey)) throw new UnsafeValueError(`fast lane host ${f.host}: no pool ${f.pool}`);
    table.set(f.host, line);
    return line;
  };
  for (const c of contribs) {
    const fast = c.fast;
    if (fast.length === 0) continue;
    c.lines = fast.length === 1 ? [add(fast[0] as FastEntry)] : fast.map(add);
  }
  return table;
}

/** The state file's text from the memo's parts: the same as stateText of the table. */
export function memoState(version: string, poolLines: string[], contribs: Contribution[]): string {
  if (!/^[0-9a-f]+$/.test(version)) throw new UnsafeValueError(`unsafe fast lane version ${version}`);
  // One join: a flat string. Appending line by line made a tree of ~2 concatenations per line
  // (~1.2 MB at 10,000 routes), kept as long as the rendered files are.
  const parts = [`# gatehouse fast lane ${version}`, ...poolLines];
  for (const c of contribs) for (const line of c.lines) parts.push(line);
  parts.push('');
  return parts.join('\n');
}

/** The files that do not depend on the table: those before the table's files, and those after. */
export interface ConfFiles {
  head: [string, string][];
  tail: [string, string][];
  /** The logs of the fast lane's offline pages (access-logs.ts). */
  fastLaneLogs: string[];
}

/** renderConf of render.ts, handed in (render.ts imports this file). */
export type RenderConf = (
  cfg: EdgeConfig,
  env: RenderEnv,
  fast: FastEntry[],
  full: Site[],
  pools: Map<string, Pool>,
  plan: TlsPlan,
) => ConfFiles;

/** The rendering's files in their order: `head`, the table's, `tail`. */
export function assembleFiles(
  conf: ConfFiles,
  version: string,
  table: FastTable,
  state?: string,
): RenderedFiles {
  const files: RenderedFiles = new Map(conf.head);
  tableFiles(files, version, table, state, conf.fastLaneLogs);
  for (const [name, content] of conf.tail) files.set(name, content);
  return files;
}

/** Pool ids that server blocks or TCP routes name. */
export function fixedPools(cfg: EdgeConfig, full: Site[]): Set<string> {
  const ids = new Set(cfg.tcp.map((t) => t.pool));
  for (const s of full) for (const r of s.routes) ids.add(r.pool);
  return ids;
}

/** Past this many sites that differ, a full rendering. */
const MAX_CHANGED = 512;

/**
 * The rendering of `cfg` made from `memo` (which it updates), or undefined when that cannot be
 * done (a full rendering is needed; `memo` is then spoiled). Throws what a full rendering may.
 * `conf`: whether the files besides the table's were made again (from the memo's lanes).
 */
export function renderIncremental(
  memo: RenderMemo,
  cfg: EdgeConfig,
  env: RenderEnv,
  renderConf: RenderConf,
): { files: RenderedFiles; conf: boolean } | undefined {
  if (!sameDown(memo.down, env.down)) return undefined;
  // Listeners, certificates, ACME answers and TCP routes are in nginx.conf alone: made again.
  const shell = sameShell(memo.cfg, cfg);
  if (!shell) memo.plan = tlsPlan(cfg);
  const prev = memo.cfg.sites;
  const next = cfg.sites;
  const contribs: Contribution[] = new Array<Contribution>(next.length);
  // Contributions of sites gone or changed, and the indexes of new or changed sites.
  const removed: Contribution[] = [];
  const added: number[] = [];
  // Sites are sorted by first host (compile): a merge walk. Any order gives a correct result.
  let i = 0;
  let j = 0;
  while (i < prev.length || j < next.length) {
    const a = prev[i];
    const b = next[j];
    if (a && b && sameSite(a, b)) {
      contribs[j++] = memo.contribs[i++] as Contribution;
      continue;
    }
    const ka = a?.hosts[0] ?? '';
    const kb = b?.hosts[0] ?? '';
    if (a && (!b || ka <= kb)) removed.push(memo.contribs[i++] as Contribution);
    if (b && (!a || kb <= ka)) added.push(j++);
    if (removed.length + added.length > MAX_CHANGED) return undefined;
  }
  const changedPools = updatePools(memo, cfg, contribs, removed, added);
  if (!changedPools) return undefined;
  // nginx.conf is made again when a server block, a host with a certificate or a pool that a
  // server block or TCP route names changed; a wildcard host changes other sites' lanes: in full.
  let conf = !shell || [...changedPools].some((id) => memo.fixedPools.has(id));
  for (const c of removed) {
    if (c.full?.hosts.some((h) => h.startsWith('*.'))) return undefined;
    conf ||= !fastOnly(c, memo.plan);
  }
  for (const k of added) {
    const site = next[k] as Site;
    if (site.hosts.some((h) => h.startsWith('*.'))) return undefined;
    const c = contribution(site, memo.pools, memo.covered);
    conf ||= !fastOnly(c, memo.plan);
    c.lines = c.fast.map((f) => hostLine(f).line);
    contribs[k] = c;
  }
  const set = new Map<string, string>();
  const deleted = new Set<string>();
  const prevTable = memo.table;
  if (!updateRefs(memo, removed, added, contribs, env.down, set, deleted)) return undefined;
  for (const c of removed) for (const f of c.fast) deleted.add(f.host);
  for (const k of added) {
    const c = contribs[k] as Contribution;
    c.fast.forEach((f, n) => {
      const line = c.lines[n] as string;
      deleted.delete(f.host);
      if (prevTable.get(f.host) !== line) set.set(f.host, line);
    });
  }
  const table = LayeredTable.over(prevTable, set, deleted);
  const state = memoState(cfg.hash, memo.poolLines, contribs);
  let files: RenderedFiles;
  if (conf) {
    const fast: FastEntry[] = [];
    const full: Site[] = [];
    const certs = memo.plan.certOf.size > 0;
    for (const c of contribs) {
      if (certs) for (const f of c.fast) fast.push(f);
      if (c.full) full.push(c.full);
    }
    files = assembleFiles(renderConf(cfg, env, fast, full, memo.pools, memo.plan), cfg.hash, table, state);
    memo.fixedPools = fixedPools(cfg, full);
  } else {
    files = new Map();
    for (const [name, content] of memo.files) files.set(name, content);
    files.set(FAST_LANE_STATE, state);
    rememberTable(files, table);
  }
  rememberChanges(files, { from: prevTable, set: [...set.keys()], deleted: [...deleted] });
  memo.cfg = snapshot(cfg);
  memo.contribs = contribs;
  memo.files = files;
  memo.table = table;
  return { files, conf };
}

/** A site in the fast lane alone, with no host that has a certificate (those are in nginx.conf). */
function fastOnly(c: Contribution, plan: TlsPlan): boolean {
  return !c.full && (plan.certOf.size === 0 || !c.fast.some((f) => plan.certOf.has(f.host)));
}

/**
 * The memo's pools by id brought up to `cfg.pools`. A pool whose content changed makes the sites
 * that name it changed too; one named by a server block or a TCP route means a full rendering.
 */
function updatePools(
  memo: RenderMemo,
  cfg: EdgeConfig,
  contribs: Contribution[],
  removed: Contribution[],
  added: number[],
): Set<string> | undefined {
  const pools = memo.pools;
  const changed = new Set<string>();
  for (const p of cfg.pools) {
    const old = pools.get(p.id);
    if (old === p) continue;
    // A new id: no unchanged site names it (the config before named only pools it had).
    if (old !== undefined && !samePool(old, p)) changed.add(p.id);
    pools.set(p.id, p);
  }
  if (pools.size !== cfg.pools.length) {
    const ids = new Set(cfg.pools.map((p) => p.id));
    if (ids.size !== cfg.pools.length) return undefined;
    for (const id of pools.keys()) {
      if (ids.has(id)) continue;
      pools.delete(id);
      changed.add(id);
    }
  }
  if (changed.size === 0) return changed;
  const fresh = new Set(added);
  cfg.sites.forEach((site, k) => {
    if (fresh.has(k) || !site.routes.some((r) => changed.has(r.pool))) return;
    removed.push(contribs[k] as Contribution);
    added.push(k);
  });
  added.sort((x, y) => x - y);
  return added.length + removed.length <= MAX_CHANGED ? changed : undefined;
}

/** Table pools counted anew for the sites that changed; their lines set or deleted in the table. */
function updateRefs(
  memo: RenderMemo,
  removed: Contribution[],
  added: number[],
  contribs: Contribution[],
  down: ReadonlySet<string> | undefined,
  set: Map<string, string>,
  deleted: Set<string>,
): boolean {
  const touched = new Set<string>();
  for (const c of removed) {
    for (const rp of c.routePools) {
      const ref = memo.refs.get(rp.name);
      if (!ref) return false;
      ref.count--;
      touched.add(rp.name);
    }
  }
  for (const k of added) {
    for (const rp of (contribs[k] as Contribution).routePools) {
      const ref = memo.refs.get(rp.name);
      if (ref) {
        ref.count++;
        ref.rp = rp;
      } else memo.refs.set(rp.name, { rp, count: 1, line: '' });
      touched.add(rp.name);
    }
  }
  const { names, poolLines } = memo;
  for (const name of touched) {
    const ref = memo.refs.get(name) as PoolRef;
    const at = search(names, name);
    const key = `@${name}`;
    if (ref.count <= 0) {
      memo.refs.delete(name);
      if (names[at] === name) {
        names.splice(at, 1);
        poolLines.splice(at, 1);
      }
      deleted.add(key);
      continue;
    }
    const { line } = poolEntry(ref.rp, down);
    ref.line = line;
    if (names[at] === name) poolLines[at] = line;
    else {
      names.splice(at, 0, name);
      poolLines.splice(at, 0, line);
    }
    deleted.delete(key);
    if (memo.table.get(key) !== line) set.set(key, line);
  }
  // A host's line names its pool: it must be in the table (fastLaneTable's check).
  for (const k of added)
    for (const f of (contribs[k] as Contribution).fast) if (!memo.refs.has(f.pool)) return false;
  return true;
}

/** The index of `name` in sorted `names`, or where it would go. */
function search(names: string[], name: string): number {
  let lo = 0;
  let hi = names.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((names[mid] as string) < name) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
