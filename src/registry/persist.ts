import { fromZod } from '../model/errors.js';
import { serviceSchema, type ServiceRecord, type Source } from '../model/service.js';
import type SQLite from 'better-sqlite3';
import { sql, type Transaction } from 'kysely';
import { dialectOf, type Database, type Db } from '../store/db.js';

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

/** Key of the transaction-level advisory lock every replica's registry write takes ("vers"). */
const VERSIONS_LOCK_KEY = 0x76657273;

/** The channel a replica announces each stored batch on: `<last version> <replica id>`. */
export const VERSIONS_CHANNEL = 'gatehouse_versions';

/**
 * Another replica stored a version first: the batch was numbered from a state this replica has not
 * seen yet. Nothing was written; the registry catches up and checks the writes again.
 */
export class StaleVersionError extends Error {
  constructor(
    readonly stored: number,
    readonly expected: number,
  ) {
    super(`another replica stored version ${stored} first (this batch starts at ${expected + 1})`);
  }
}

/**
 * The same rows as `persistVersionsSync`, in one transaction through Kysely (PostgreSQL). Replicas
 * share the store: under an advisory lock the batch must continue the stored versions exactly
 * (else `StaleVersionError`, nothing written), so versions have no gap and no duplicate; at commit
 * every replica listening on `VERSIONS_CHANNEL` is told.
 */
export async function persistVersions(db: Db, rows: VersionRow[], replica = ''): Promise<void> {
  const first = rows[0];
  const last = rows[rows.length - 1];
  if (!first || !last) return;
  await db.transaction().execute(async (tx) => {
    await sql`select pg_advisory_xact_lock(${VERSIONS_LOCK_KEY})`.execute(tx);
    const top = await tx
      .selectFrom('versions')
      .select((eb) => eb.fn.max('version').as('v'))
      .executeTakeFirst();
    const stored = Number(top?.v ?? 0);
    if (stored !== first.version - 1) throw new StaleVersionError(stored, first.version - 1);
    for (const row of rows) await insertRow(tx, row);
    await sql`select pg_notify(${VERSIONS_CHANNEL}, ${`${last.version} ${replica}`})`.execute(tx);
  });
}

/** The registry's write lock held by one pinned connection, across a catch-up and the next batch. */
export interface WriteHold {
  /** The pinned connection: the batch written through it takes the lock it already holds. */
  db: Db;
  release(): void;
}

/**
 * Takes the write lock for a while (a session-level advisory lock on a pinned connection): no other
 * replica stores a version until `release`. A registry that was refused because another replica wrote
 * first holds it from its catch-up to the batch that writes again, so that batch cannot be refused
 * again (without it, replicas writing without pause can keep refusing each other).
 */
export function holdWriteLock(db: Db): Promise<WriteHold> {
  return new Promise<WriteHold>((resolve, reject) => {
    let release = () => undefined as void;
    const released = new Promise<void>((r) => (release = r));
    let held = false;
    db.connection()
      .execute(async (conn) => {
        await sql`select pg_advisory_lock(${VERSIONS_LOCK_KEY})`.execute(conn);
        held = true;
        try {
          resolve({ db: conn, release });
          await released;
        } finally {
          await sql`select pg_advisory_unlock(${VERSIONS_LOCK_KEY})`.execute(conn).catch(() => undefined);
        }
      })
      .catch((err: unknown) => {
        if (!held) reject(err instanceof Error ? err : new Error(String(err)));
      });
  });
}

async function insertRow(tx: Transaction<Database>, row: VersionRow): Promise<void> {
  const { version, meta } = row;
  await tx
    .insertInto('versions')
    .values({
      version,
      at: row.at,
      actor: meta.actor,
      source: meta.source,
      reason: meta.reason ?? describe(row.changes.map((c) => [c.name, c.after])),
    })
    .execute();
  for (const { name, before, after } of row.changes) {
    const spec = after ? JSON.stringify(after.service) : null;
    await tx
      .insertInto('changes')
      .values({
        version,
        name,
        before: before ? JSON.stringify(before) : null,
        after: after ? JSON.stringify({ service: after.service, meta: after.meta }) : null,
      })
      .execute();
    if (after && spec !== null) {
      const m = after.meta;
      const values = {
        source: m.source,
        owner: m.owner ?? '',
        spec,
        created_at: m.created_at,
        updated_at: m.updated_at,
      };
      await tx
        .insertInto('services')
        .values({ name, ...values })
        .onConflict((oc) => oc.column('name').doUpdateSet(values))
        .execute();
    } else {
      await tx.deleteFrom('services').where('name', '=', name).execute();
    }
  }
}

function describe(changes: [string, ServiceRecord | undefined][]): string {
  const parts = changes.slice(0, 5).map(([n, r]) => `${r ? 'put' : 'delete'} ${n}`);
  return parts.join(', ') + (changes.length > 5 ? ` and ${changes.length - 5} more` : '');
}

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
