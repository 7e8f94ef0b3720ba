import { existsSync, rmSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { sql, type Kysely, type Transaction } from 'kysely';
import { GatehouseError, invalid } from '../model/errors.js';
import { BACKUP_TABLES } from './backup.js';
import { dbFile, runningInstance } from './data-dir.js';
import { dialectOf, type Database, type Db } from './db.js';
import { migrationState } from './migrate.js';
import { openDatabase } from './open.js';
import { openPostgresForCheck, redactUrl } from './postgres.js';
import { openSqliteReadOnly } from './sqlite.js';

/**
 * `gatehouse db copy`: a whole store from one database to another (SQLite ⇄ PostgreSQL). The
 * tables are the backup's (BACKUP_TABLES, which a unit test holds equal to what the migrations
 * create); the source must also hold no table besides them, so a table added without the copy
 * knowing is refused rather than left behind.
 */

export type CopyTable = (typeof BACKUP_TABLES)[number];
export const COPY_TABLES: readonly CopyTable[] = BACKUP_TABLES;

/** Where a store lives: a PostgreSQL URL or a SQLite file. */
export type StoreLocation =
  { kind: 'postgres'; url: string; label: string } | { kind: 'sqlite'; path: string; label: string };

/**
 * A `--from`/`--to` argument: `postgres://…` (or `postgresql://…`), `sqlite:PATH` (also
 * `sqlite://PATH`, so `sqlite:///var/lib/x.db` works), or a plain file path. A path naming a
 * directory means that data dir's `gatehouse.db`.
 */
export function parseLocation(flag: '--from' | '--to', text: string): StoreLocation {
  const t = text.trim();
  if (!t) throw invalid(flag, 'is empty: give a postgres:// URL, sqlite:PATH or a file path');
  if (/^postgres(ql)?:\/\//i.test(t)) {
    let u: URL;
    try {
      u = new URL(t);
    } catch {
      throw invalid(flag, `${redactUrl(t)} is not a valid PostgreSQL URL`);
    }
    if (!u.hostname && !u.searchParams.get('host')) throw invalid(flag, `${redactUrl(t)} names no host`);
    return { kind: 'postgres', url: t, label: redactUrl(t) };
  }
  let path = t;
  if (/^sqlite:/i.test(t)) path = t.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(t))
    throw invalid(
      flag,
      `unknown database kind ${t.slice(0, t.indexOf(':') + 1)} (use postgres://…, sqlite:PATH or a file path)`,
    );
  if (!path || path === ':memory:') throw invalid(flag, 'names no SQLite file');
  let file = resolve(path);
  if (existsSync(file) && statSync(file).isDirectory()) file = dbFile(file);
  return { kind: 'sqlite', path: file, label: `sqlite:${file}` };
}

function sameLocation(a: StoreLocation, b: StoreLocation): boolean {
  if (a.kind === 'sqlite' && b.kind === 'sqlite') return a.path === b.path;
  if (a.kind === 'postgres' && b.kind === 'postgres') {
    const [x, y] = [new URL(a.url), new URL(b.url)];
    return x.host === y.host && x.pathname === y.pathname;
  }
  return false;
}

/** The tables a database holds, without Kysely's own bookkeeping. */
export async function storeTables<T>(db: Kysely<T>): Promise<string[]> {
  const tables = await db.introspection.getTables();
  return tables
    .map((t) => t.name)
    .filter((n) => !n.startsWith('kysely_'))
    .sort();
}

/** Row count per table, of the tables named. */
export async function rowCounts(
  db: Kysely<Database>,
  tables: readonly string[],
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const t of tables) {
    const row = await db
      .selectFrom(t as CopyTable)
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirst();
    counts.set(t, Number(row?.n ?? 0));
  }
  return counts;
}

/**
 * The hash of the config a Gatehouse on a store compiles (compile/store-hash.ts): the copy's check
 * that both stores serve the same. Passed in: the store does not compile.
 */
export type StoreHasher = (db: Kysely<Database>, now: number) => Promise<{ hash: string }>;

export interface CopyProgress {
  (table: string, rows: number): void;
}

export interface CopyReport {
  from: string;
  to: string;
  migrations: string[];
  tables: { table: string; rows: number }[];
  rows: number;
  hash: string;
}

/** Rows per insert statement: well under SQLite's and PostgreSQL's limits on parameters. */
function batchSize(columns: number): number {
  return Math.max(1, Math.min(500, Math.floor(30_000 / Math.max(1, columns))));
}

/** Opens the source without changing it, after checking it is a Gatehouse store of this schema. */
async function openSource(loc: StoreLocation): Promise<Db> {
  let db: Db;
  if (loc.kind === 'sqlite') {
    if (!existsSync(loc.path)) throw invalid('--from', `there is no SQLite database at ${loc.path}`);
    const running = runningInstance(dirname(loc.path));
    if (running)
      throw invalid(
        '--from',
        `Gatehouse runs on ${loc.path} (pid ${running.pid}): stop it first, or writes after the copy are lost`,
      );
    try {
      db = openSqliteReadOnly(loc.path);
      await sql`select count(*) from sqlite_master`.execute(db);
    } catch (err) {
      throw invalid('--from', `${loc.path} does not open as a SQLite database (${String(err)})`);
    }
  } else {
    db = await withFlag('--from', () => openPostgresForCheck(loc.url));
  }
  try {
    const { applied, unknown, pending } = await migrationState(db);
    if (applied.length === 0)
      throw invalid('--from', `${loc.label} holds no Gatehouse store (no migrations were applied)`);
    if (unknown.length > 0)
      throw invalid(
        '--from',
        `${loc.label} has a newer schema than this Gatehouse (migration ${unknown.join(', ')}): copy with the newer Gatehouse`,
      );
    if (pending.length > 0)
      throw invalid(
        '--from',
        `${loc.label} has an older schema than this Gatehouse (${pending.join(', ')} not applied): start this Gatehouse on it once (it migrates at start-up), then copy`,
      );
    const extra = (await storeTables(db)).filter((t) => !(COPY_TABLES as readonly string[]).includes(t));
    if (extra.length > 0)
      throw invalid('--from', `${loc.label} holds tables the copy does not know: ${extra.join(', ')}`);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return db;
}

/** Rows already in the target's tables (before anything is created or migrated there). */
async function targetRows(loc: StoreLocation): Promise<Map<string, number>> {
  if (loc.kind === 'sqlite' && !existsSync(loc.path)) return new Map();
  let db: Db;
  if (loc.kind === 'sqlite') {
    try {
      db = openSqliteReadOnly(loc.path);
    } catch (err) {
      throw invalid('--to', `${loc.path} does not open as a SQLite database (${String(err)})`);
    }
  } else db = await withFlag('--to', () => openPostgresForCheck(loc.url));
  try {
    const counts = await rowCounts(db, await storeTables(db));
    return new Map([...counts].filter(([, n]) => n > 0));
  } catch (err) {
    throw invalid('--to', `${loc.label} cannot be read: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    await db.destroy();
  }
}

function notEmpty(loc: StoreLocation, rows: Map<string, number>): GatehouseError {
  const list = [...rows].map(([t, n]) => `${t}: ${n}`).join(', ');
  return new GatehouseError(
    'copy_target_not_empty',
    `--to: ${loc.label} is not empty (${list}): copy into an empty database`,
    409,
    [{ field: '--to', message: 'is not empty' }],
  );
}

/** A store error, prefixed with the flag that named the database. */
async function withFlag<T>(flag: '--from' | '--to', fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof GatehouseError && err.issues.length > 0) throw err;
    const message = err instanceof Error ? err.message : String(err);
    const code = err instanceof GatehouseError ? err.code : 'invalid';
    const status = err instanceof GatehouseError ? err.status : 400;
    throw new GatehouseError(code, `${flag}: ${message}`, status, [{ field: flag, message }]);
  }
}

/**
 * Copies the whole store at `from` into the empty database at `to`: `to` is created if need be and
 * migrated to this Gatehouse's schema, then every row goes in one transaction, which commits only
 * when every table's count and the compiled config's hash match the source's. Sealed values are
 * copied as they are: the target opens them with the same data key.
 */
export async function copyStore(
  fromText: string,
  toText: string,
  configHash: StoreHasher,
  progress: CopyProgress = () => undefined,
): Promise<CopyReport> {
  const from = parseLocation('--from', fromText);
  const to = parseLocation('--to', toText);
  if (sameLocation(from, to)) throw invalid('--to', 'is the same database as --from');
  if (to.kind === 'sqlite' && !existsSync(dirname(to.path)))
    throw invalid('--to', `the directory ${dirname(to.path)} does not exist`);
  const src = await openSource(from);
  try {
    const rows = await targetRows(to);
    if (rows.size > 0) throw notEmpty(to, rows);
    const created = to.kind === 'sqlite' && !existsSync(to.path);
    const dst = await withFlag('--to', () => openDatabase(to.kind === 'sqlite' ? to.path : to.url));
    let ok = false;
    try {
      const report = await copyOpen(src, dst, from, to, configHash, progress);
      ok = true;
      return report;
    } finally {
      await dst.destroy();
      // A file the copy made and could not fill is taken away again: nothing half-made is left.
      if (!ok && created && to.kind === 'sqlite')
        for (const f of [to.path, `${to.path}-wal`, `${to.path}-shm`]) rmSync(f, { force: true });
    }
  } finally {
    await src.destroy();
  }
}

/** Source read in one transaction (one snapshot); target written in one transaction. */
async function copyOpen(
  src: Db,
  dst: Db,
  from: StoreLocation,
  to: StoreLocation,
  configHash: StoreHasher,
  progress: CopyProgress,
): Promise<CopyReport> {
  const now = Date.now();
  const serials = dialectOf(dst) === 'postgres' ? await serialColumns(dst) : [];
  const read =
    dialectOf(src) === 'postgres'
      ? src.transaction().setIsolationLevel('repeatable read')
      : src.transaction();
  return read.execute(async (s) => {
    const { applied } = await migrationState(s as unknown as Kysely<unknown>);
    const before = await configHash(s, now);
    return dst.transaction().execute(async (d) => {
      const present = await rowCounts(d, COPY_TABLES);
      const busy = new Map([...present].filter(([, n]) => n > 0));
      if (busy.size > 0) throw notEmpty(to, busy);
      const tables: { table: string; rows: number }[] = [];
      for (const table of COPY_TABLES) {
        const n = await copyTable(s, d, table);
        tables.push({ table, rows: n });
        progress(table, n);
      }
      for (const { table, column } of serials) await resetSerial(d, table, column);
      await verify(d, tables, before.hash, () => configHash(d, now));
      return {
        from: from.label,
        to: to.label,
        migrations: applied,
        tables,
        rows: tables.reduce((a, t) => a + t.rows, 0),
        hash: before.hash,
      };
    });
  });
}

async function copyTable(
  s: Transaction<Database>,
  d: Transaction<Database>,
  table: CopyTable,
): Promise<number> {
  const rows = (await s.selectFrom(table).selectAll().execute()) as Record<string, unknown>[];
  const first = rows[0];
  if (!first) return 0;
  const size = batchSize(Object.keys(first).length);
  for (let i = 0; i < rows.length; i += size) {
    try {
      await d
        .insertInto(table)
        .values(rows.slice(i, i + size) as never)
        .execute();
    } catch (err) {
      throw new GatehouseError(
        'copy_failed',
        `copying ${table} failed, nothing was stored: ${err instanceof Error ? err.message : String(err)}`,
        500,
      );
    }
  }
  return rows.length;
}

/** Counts and the compiled config as the target now holds them, against what was read. */
async function verify(
  d: Transaction<Database>,
  tables: { table: string; rows: number }[],
  hash: string,
  hashNow: () => Promise<{ hash: string }>,
): Promise<void> {
  const counts = await rowCounts(d, COPY_TABLES);
  const off = tables.filter((t) => counts.get(t.table) !== t.rows);
  if (off.length > 0)
    throw new GatehouseError(
      'copy_mismatch',
      `the copy's row counts differ (${off.map((t) => `${t.table}: ${t.rows} read, ${String(counts.get(t.table))} written`).join('; ')}); nothing was stored`,
      500,
    );
  const after = await hashNow();
  if (after.hash !== hash)
    throw new GatehouseError(
      'copy_mismatch',
      `the copy compiles to another config (hash ${after.hash}, source ${hash}); nothing was stored`,
      500,
    );
}

/** PostgreSQL's serial columns (events, link_uses, audit ids): their sequences follow copied ids. */
export async function serialColumns(db: Db): Promise<{ table: string; column: string }[]> {
  const tables = await db.introspection.getTables();
  return tables.flatMap((t) =>
    t.columns.filter((c) => c.isAutoIncrementing).map((c) => ({ table: t.name, column: c.name })),
  );
}

export async function resetSerial(d: Transaction<Database>, table: string, column: string): Promise<void> {
  // The next id is one past the largest copied (1 for an empty table).
  await sql`select setval(pg_get_serial_sequence(${table}, ${column}), coalesce((select max(${sql.ref(column)}) from ${sql.table(table)}), 0) + 1, false)`.execute(
    d,
  );
}
