import { fromZod } from '../model/errors.js';
import { describe } from './persist-pg.js';
import { serviceSchema, type ServiceRecord, type Source } from '../model/service.js';
import type SQLite from 'better-sqlite3';
import { dialectOf, type Db } from '../store/db.js';

/** Who is writing, and why: recorded on every version. */
export interface WriteMeta {
  actor: string;
  source: Source;
  /** See ServiceMeta.owner: what within the source writes (a container, a file, an agent). */
  owner?: string;
  reason?: string;
  /** Allow a change that leaves no route at all. */
  force?: boolean;
  /** Check the change against the whole state, report what it would change, write nothing. */
  dryRun?: boolean;
}

/** One version to write: its number, who wrote it, and each record's before and after. */
export interface VersionRow {
  version: number;
  at: string;
  meta: WriteMeta;
  changes: { name: string; before: ServiceRecord | undefined; after: ServiceRecord | undefined }[];
  /** Computed from the state before its turn (a rollback): never stored after versions it did not see. */
  fixed?: boolean;
}

interface Statements {
  version: SQLite.Statement;
  change: SQLite.Statement;
  upsert: SQLite.Statement;
  remove: SQLite.Statement;
  /** Every row of a batch, in one transaction. */
  all: (rows: VersionRow[]) => void;
}

/** Prepared once per database handle. */
const prepared = new WeakMap<SQLite.Database, Statements>();

function statements(sqlite: SQLite.Database): Statements {
  let st = prepared.get(sqlite);
  if (st) return st;
  const s = {
    version: sqlite.prepare(
      'insert into versions (version, at, actor, source, reason) values (?, ?, ?, ?, ?)',
    ),
    change: sqlite.prepare('insert into changes (version, name, before, after) values (?, ?, ?, ?)'),
    upsert: sqlite.prepare(
      'insert into services (name, source, owner, spec, created_at, updated_at) values (?, ?, ?, ?, ?, ?)' +
        ' on conflict (name) do update set source = excluded.source, owner = excluded.owner,' +
        ' spec = excluded.spec, created_at = excluded.created_at, updated_at = excluded.updated_at',
    ),
    remove: sqlite.prepare('delete from services where name = ?'),
  };
  st = {
    ...s,
    all: sqlite.transaction((rows: VersionRow[]) => {
      for (const row of rows) writeRow(s, row);
    }),
  };
  prepared.set(sqlite, st);
  return st;
}

function writeRow(s: Omit<Statements, 'all'>, row: VersionRow): void {
  const { version, meta } = row;
  s.version.run(
    version,
    row.at,
    meta.actor,
    meta.source,
    meta.reason ?? describe(row.changes.map((c) => [c.name, c.after])),
  );
  for (const { name, before, after } of row.changes) {
    const spec = after ? JSON.stringify(after.service) : null;
    // The change's after is the whole record; its service part is the spec just serialised.
    const afterJson =
      after && spec !== null ? `{"service":${spec},"meta":${JSON.stringify(after.meta)}}` : null;
    s.change.run(version, name, before ? JSON.stringify(before) : null, afterJson);
    if (after && spec !== null) {
      const m = after.meta;
      s.upsert.run(name, m.source, m.owner ?? '', spec, m.created_at, m.updated_at);
    } else {
      s.remove.run(name);
    }
  }
}

/**
 * Writes several versions in one SQLite transaction, synchronously: each version's row, each
 * record's before and after (what snapshots, diffs and rollbacks are built from), and the records
 * themselves. All of them, or (it throws) none. The caller makes sure no other transaction is open
 * on the handle (better-sqlite3 would nest this one in it).
 */
export function persistVersionsSync(sqlite: SQLite.Database, rows: VersionRow[]): void {
  if (sqlite.inTransaction) throw new Error('persistVersionsSync: another transaction is open');
  statements(sqlite).all(rows);
}

export {
  describe,
  holdWriteLock,
  persistVersions,
  StaleVersionError,
  VERSIONS_CHANNEL,
  type WriteHold,
} from './persist-pg.js';

/**
 * The stored records and the latest version, as the registry starts. A record a newer Gatehouse no
 * longer accepts (rules only ever get stricter) is set aside, not fatal: everything else keeps
 * serving, and `unloadable` says what needs fixing.
 */
export function loadRecords(db: Db): Promise<Loaded> {
  // Other replicas may store versions meanwhile: the records and the version come from one snapshot.
  if (dialectOf(db) !== 'postgres' || db.isTransaction) return loadRecordsIn(db);
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute((tx) => loadRecordsIn(tx));
}

export interface Loaded {
  records: Map<string, ServiceRecord>;
  unloadable: { name: string; error: string }[];
  version: number;
}

/** `loadRecords` inside a transaction the caller opened. */
export async function loadRecordsIn(db: Db): Promise<Loaded> {
  const records = new Map<string, ServiceRecord>();
  const unloadable: { name: string; error: string }[] = [];
  const rows = await db.selectFrom('services').selectAll().execute();
  // Sorted here, not by the database: PostgreSQL's collation may not order as SQLite's bytes do.
  rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const row of rows) {
    let spec: unknown;
    try {
      spec = JSON.parse(row.spec);
    } catch {
      spec = undefined;
    }
    const parsed = serviceSchema.safeParse(spec);
    if (!parsed.success) {
      unloadable.push({ name: row.name, error: fromZod(parsed.error).message });
      continue;
    }
    records.set(row.name, {
      service: parsed.data,
      meta: {
        source: row.source as Source,
        ...(row.owner ? { owner: row.owner } : {}),
        created_at: row.created_at,
        updated_at: row.updated_at,
      },
    });
  }
  const v = await db
    .selectFrom('versions')
    .select((eb) => eb.fn.max('version').as('v'))
    .executeTakeFirst();
  return { records, unloadable, version: Number(v?.v ?? 0) };
}
