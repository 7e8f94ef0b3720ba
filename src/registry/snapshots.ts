import { createTwoFilesPatch } from 'diff';
import YAML from 'yaml';
import { GatehouseError, notFound } from '../model/errors.js';
import type { Service, ServiceRecord } from '../model/service.js';
import type { Registry, WriteMeta, WriteResult } from './registry.js';

/**
 * Snapshots are the registry's versions. Each version stores only what it changed (before and
 * after of each record), so a write costs O(change), and the state at any kept version is the
 * current state with the later changes undone.
 */

export interface VersionInfo {
  version: number;
  at: string;
  actor: string;
  source: string;
  reason: string;
  changes: { name: string; op: 'create' | 'update' | 'delete' }[];
}

export async function listVersions(reg: Registry, limit = 50, before?: number): Promise<VersionInfo[]> {
  let q = reg.db.selectFrom('versions').selectAll().orderBy('version', 'desc').limit(limit);
  if (before !== undefined) q = q.where('version', '<', before);
  const rows = await q.execute();
  if (rows.length === 0) return [];
  const versions = rows.map((r) => r.version);
  const changes = await reg.db
    .selectFrom('changes')
    .select([
      'version',
      'name',
      (eb) => eb('before', 'is', null).as('created'),
      (eb) => eb('after', 'is', null).as('deleted'),
    ])
    .where('version', 'in', versions)
    .execute();
  const byVersion = new Map<number, VersionInfo['changes']>();
  for (const c of changes) {
    const list = byVersion.get(c.version) ?? [];
    list.push({ name: c.name, op: c.created ? 'create' : c.deleted ? 'delete' : 'update' });
    byVersion.set(c.version, list);
  }
  return rows.map((r) => ({ ...r, changes: byVersion.get(r.version) ?? [] }));
}

export async function getVersion(reg: Registry, version: number): Promise<VersionInfo> {
  const [info] = await listVersions(reg, 1, version + 1);
  if (!info || info.version !== version) throw notFound(`snapshot ${version}`);
  return info;
}

/** The registry's records as they were right after `version` was written. */
export async function stateAt(reg: Registry, version: number): Promise<Map<string, ServiceRecord>> {
  const state = new Map(reg.state());
  if (version === reg.version) return state;
  if (version !== 0) await getVersion(reg, version);
  else {
    const oldest = await reg.db
      .selectFrom('versions')
      .select('version')
      .orderBy('version')
      .limit(1)
      .executeTakeFirst();
    if (oldest && oldest.version > 1) throw notFound('snapshot 0 (pruned)');
  }
  const later = await reg.db
    .selectFrom('changes')
    .selectAll()
    .where('version', '>', version)
    .orderBy('version', 'desc')
    .execute();
  for (const c of later) {
    if (c.before) state.set(c.name, JSON.parse(c.before) as ServiceRecord);
    else state.delete(c.name);
  }
  return state;
}

export interface ServiceDiff {
  name: string;
  op: 'create' | 'update' | 'delete';
  patch: string;
}

/** What changed from version `from` to version `to`, service by service, as YAML patches. */
export async function diffVersions(reg: Registry, from: number, to: number): Promise<ServiceDiff[]> {
  const [a, b] = [await stateAt(reg, from), await stateAt(reg, to)];
  const names = [...new Set([...a.keys(), ...b.keys()])].sort();
  const out: ServiceDiff[] = [];
  for (const name of names) {
    const before = a.get(name);
    const after = b.get(name);
    const d = serviceDiff(name, before?.service, after?.service, `${name}@${from}`, `${name}@${to}`);
    if (d) out.push(d);
  }
  return out;
}

/** One service's change as a YAML patch (undefined when there is none), labelled `from` → `to`. */
export function serviceDiff(
  name: string,
  before: Service | undefined,
  after: Service | undefined,
  from: string,
  to: string,
): ServiceDiff | undefined {
  const [ya, yb] = [before ? YAML.stringify(before) : '', after ? YAML.stringify(after) : ''];
  if (ya === yb) return undefined;
  const op = !before ? 'create' : !after ? 'delete' : 'update';
  return { name, op, patch: createTwoFilesPatch(from, to, ya, yb, undefined, undefined, { context: 3 }) };
}

/** Makes the registry look as it did at `version`, written as a new version. */
export async function rollback(reg: Registry, version: number, meta: WriteMeta): Promise<WriteResult> {
  if (version > reg.version)
    throw new GatehouseError('invalid', `version: ${version} is newer than the current ${reg.version}`);
  const target = await stateAt(reg, version);
  const current = reg.state();
  const changes: [string, ServiceRecord | undefined][] = [];
  for (const name of new Set([...current.keys(), ...target.keys()])) {
    const want = target.get(name);
    const have = current.get(name);
    if (JSON.stringify(want) !== JSON.stringify(have)) changes.push([name, want]);
  }
  return reg.restore(changes, { ...meta, reason: meta.reason ?? `rollback to version ${version}` });
}

/**
 * Deletes versions that are both older than the newest `keep` and older than `keepDays` days.
 * Returns how many were removed.
 */
export async function pruneVersions(
  reg: Registry,
  keep: number,
  keepDays: number,
  now = Date.now(),
): Promise<number> {
  const cutoffAt = new Date(now - keepDays * 86_400_000).toISOString();
  const byCount = reg.version - keep + 1;
  const young = await reg.db
    .selectFrom('versions')
    .select('version')
    .where('at', '>=', cutoffAt)
    .orderBy('version')
    .limit(1)
    .executeTakeFirst();
  const firstKept = Math.min(byCount, young?.version ?? Number.POSITIVE_INFINITY);
  if (firstKept <= 1) return 0;
  const res = await reg.db.deleteFrom('versions').where('version', '<', firstKept).executeTakeFirst();
  await reg.db.deleteFrom('changes').where('version', '<', firstKept).execute();
  return Number(res.numDeletedRows);
}
