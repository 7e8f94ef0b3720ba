import { fromZod, GatehouseError } from '../model/errors.js';
import { serviceSchema, type ServiceMeta, type ServiceRecord, type Source } from '../model/service.js';
import { dialectOf, type Db } from '../store/db.js';
import type { Claims } from './claims.js';
import { loadRecordsIn } from './persist.js';

/** What other replicas stored since a version this replica holds. */
export interface CatchUp {
  /** The newest stored version. */
  version: number;
  /** Each record those versions changed, as it is now (undefined: deleted, or set aside). */
  changes: Map<string, ServiceRecord | undefined>;
  /** Records among them this binary does not accept: kept in the database, not served. */
  unloadable: { name: string; error: string }[];
  /**
   * The whole state instead, when the versions in between are no longer all there (pruned while this
   * replica was away): the registry replaces its records with it.
   */
  whole?: Map<string, ServiceRecord>;
}

/**
 * The versions stored after `version`, read in one snapshot of the database (so the records and the
 * version number agree); undefined when there are none. On PostgreSQL one statement (one snapshot,
 * one round trip) reads every new version with its changes; only when the versions in between are
 * gone does it read the whole state, in a transaction of its own.
 */
export async function readSince(db: Db, version: number): Promise<CatchUp | undefined> {
  if (dialectOf(db) !== 'postgres') return read(db, version);
  const c = await readChanges(db, version);
  if (c !== 'gap') return c;
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute((tx) => whole(tx));
}

/**
 * PostgreSQL: every version stored after `version` with its changes, in one statement (one snapshot),
 * or 'gap' when those versions are not all there.
 */
export async function readChanges(db: Db, version: number): Promise<CatchUp | undefined | 'gap'> {
  const rows = await db
    .selectFrom('versions as v')
    .leftJoin('changes as c', 'c.version', 'v.version')
    .select(['v.version as version', 'c.name as name', 'c.after as after'])
    .where('v.version', '>', version)
    .orderBy('v.version')
    .execute();
  return fromRows(version, rows);
}

async function read(db: Db, version: number): Promise<CatchUp | undefined> {
  const versions = await db
    .selectFrom('versions')
    .select('version')
    .where('version', '>', version)
    .orderBy('version')
    .execute();
  const top = versions[versions.length - 1]?.version;
  if (top === undefined) return undefined;
  if (!versions.every((v, i) => v.version === version + 1 + i)) return whole(db);
  const rows = await db
    .selectFrom('changes')
    .select(['version', 'name', 'after'])
    .where('version', '>', version)
    .where('version', '<=', top)
    .orderBy('version')
    .execute();
  const c = fromRows(version, rows);
  return c === 'gap' || c?.version !== top ? whole(db) : c;
}

/**
 * The catch-up from the changes of the versions after `version` (in version order; a version with no
 * change row has one row with a null name), or 'gap' when those versions are not all there (pruned
 * while this replica was away, or a version stored without its changes).
 */
function fromRows(
  version: number,
  rows: { version: number; name: string | null; after: string | null }[],
): CatchUp | undefined | 'gap' {
  let top = version;
  const changes = new Map<string, ServiceRecord | undefined>();
  const bad = new Map<string, string>();
  for (const row of rows) {
    if (row.version !== top) {
      if (row.version !== top + 1) return 'gap';
      top = row.version;
    }
    if (row.name === null) return 'gap';
    const parsed = row.after === null ? undefined : parseRecord(row.after);
    if (typeof parsed === 'string') {
      bad.set(row.name, parsed);
      changes.set(row.name, undefined);
    } else {
      bad.delete(row.name);
      changes.set(row.name, parsed);
    }
  }
  if (top === version) return undefined;
  return {
    version: top,
    changes,
    unloadable: [...bad].map(([name, error]) => ({ name, error })),
  };
}

async function whole(db: Db): Promise<CatchUp> {
  const loaded = await loadRecordsIn(db);
  return {
    version: loaded.version,
    changes: new Map(),
    unloadable: loaded.unloadable,
    whole: loaded.records,
  };
}

/** A change's `after` (a whole record, as stored), or why this binary does not accept it. */
export function parseRecord(text: string): ServiceRecord | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  const obj = (raw ?? {}) as { service?: unknown; meta?: Partial<Record<keyof ServiceMeta, unknown>> };
  const parsed = serviceSchema.safeParse(obj.service);
  if (!parsed.success) return fromZod(parsed.error).message;
  const m = obj.meta ?? {};
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  return {
    service: parsed.data,
    meta: {
      source: str(m.source) as Source,
      ...(str(m.owner) ? { owner: str(m.owner) } : {}),
      created_at: str(m.created_at),
      updated_at: str(m.updated_at),
    },
  };
}

/**
 * Applies a catch-up to the registry's records, claim index and list of records set aside; returns
 * the names whose record changed.
 */
export function applyCatchUp(
  c: CatchUp,
  records: Map<string, ServiceRecord>,
  claims: Claims,
  unloadable: { name: string; error: string }[],
): Set<string> {
  const names = new Set<string>();
  if (c.whole) {
    for (const name of records.keys()) if (!c.whole.has(name)) c.changes.set(name, undefined);
    for (const [name, rec] of c.whole)
      if (JSON.stringify(rec) !== JSON.stringify(records.get(name))) c.changes.set(name, rec);
    for (const u of unloadable.splice(0)) names.add(u.name);
  }
  for (const [name, after] of c.changes) {
    const before = records.get(name);
    if (before) claims.remove(before.service);
    if (after) {
      records.set(name, after);
      claims.add(after.service);
    } else records.delete(name);
    const i = unloadable.findIndex((u) => u.name === name);
    if (i >= 0) unloadable.splice(i, 1);
    names.add(name);
  }
  unloadable.push(...c.unloadable);
  return names;
}

/** How many times a write runs again after other replicas wrote first, before it is refused. */
const STALE_RETRIES = 20;

/**
 * Whether a write refused with `err` runs again (returns), or its caller gets an answer (throws):
 * that error when it is not about another replica writing first; a 409 for a write computed before
 * its turn (`again` false: a rollback), which must not be applied to a state it was not computed
 * from; the refusal itself after STALE_RETRIES rounds.
 */
export function stillStale(err: unknown, again: boolean, attempt: number): void {
  if (!(err instanceof GatehouseError) || err.code !== 'stale_version') throw err;
  if (!again) {
    throw new GatehouseError(
      'changed_meanwhile',
      'another replica changed the registry meanwhile; nothing was written, look again and repeat',
      409,
    );
  }
  if (attempt >= STALE_RETRIES) throw err;
}

/** Another replica stored a version first (the registry runs the write again; see STALE_RETRIES). */
export function staleError(): GatehouseError {
  return new GatehouseError(
    'stale_version',
    'other replicas kept writing first; nothing of this write was stored, try again',
    503,
  );
}
