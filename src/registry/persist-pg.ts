import { sql } from 'kysely';
import type { ServiceRecord } from '../model/service.js';
import type { Db } from '../store/db.js';
import type { VersionRow } from './persist.js';

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

/** A batch as columns: one array per column, each passed to PostgreSQL as one parameter. */
interface Columns {
  versions: { version: number[]; at: string[]; actor: string[]; source: string[]; reason: string[] };
  changes: { version: number[]; name: string[]; before: (string | null)[]; after: (string | null)[] };
  /** Each record the batch leaves in place (the last write of it wins), and those it leaves deleted. */
  upserts: {
    name: string[];
    source: string[];
    owner: string[];
    spec: string[];
    created_at: string[];
    updated_at: string[];
  };
  deletes: string[];
}

function columns(rows: VersionRow[]): Columns {
  const c: Columns = {
    versions: { version: [], at: [], actor: [], source: [], reason: [] },
    changes: { version: [], name: [], before: [], after: [] },
    upserts: { name: [], source: [], owner: [], spec: [], created_at: [], updated_at: [] },
    deletes: [],
  };
  const last = new Map<string, { spec: string; rec: ServiceRecord } | undefined>();
  for (const row of rows) {
    const { version, meta } = row;
    c.versions.version.push(version);
    c.versions.at.push(row.at);
    c.versions.actor.push(meta.actor);
    c.versions.source.push(meta.source);
    c.versions.reason.push(meta.reason ?? describe(row.changes.map((x) => [x.name, x.after])));
    for (const { name, before, after } of row.changes) {
      const spec = after ? JSON.stringify(after.service) : undefined;
      c.changes.version.push(version);
      c.changes.name.push(name);
      c.changes.before.push(before ? JSON.stringify(before) : null);
      // The whole record; its service part is the spec just serialised.
      c.changes.after.push(
        after && spec !== undefined ? `{"service":${spec},"meta":${JSON.stringify(after.meta)}}` : null,
      );
      last.set(name, after && spec !== undefined ? { spec, rec: after } : undefined);
    }
  }
  for (const [name, v] of last) {
    if (!v) {
      c.deletes.push(name);
      continue;
    }
    const m = v.rec.meta;
    c.upserts.name.push(name);
    c.upserts.source.push(m.source);
    c.upserts.owner.push(m.owner ?? '');
    c.upserts.spec.push(v.spec);
    c.upserts.created_at.push(m.created_at);
    c.upserts.updated_at.push(m.updated_at);
  }
  return c;
}

/**
 * The same rows as `persistVersionsSync`, in one transaction (PostgreSQL), in three round trips
 * whatever the batch's size: `begin` with the advisory lock; one statement that checks the stored
 * versions and writes every version, change and record (each column one array parameter); `commit`.
 * Replicas share the store: under the lock the batch must continue the stored versions exactly (else
 * `StaleVersionError`, nothing written), so versions have no gap and no duplicate; at commit every
 * replica listening on `VERSIONS_CHANNEL` is told.
 */
export async function persistVersions(
  db: Db,
  rows: VersionRow[],
  replica = '',
  rebase?: Rebase,
): Promise<void> {
  if (rows.length === 0) return;
  const expected = () => (rows[0] as VersionRow).version - 1;
  await db.connection().execute(async (conn) => {
    // One simple-protocol round trip; the statement after it takes its snapshot once the lock is held.
    await sql.raw(`begin; select pg_advisory_xact_lock(${VERSIONS_LOCK_KEY})`).execute(conn);
    try {
      let stored = await writeRows(conn, rows, replica);
      // Under the lock nothing else is stored meanwhile: one rebase is all it can take.
      if (stored !== expected() && rebase && (await rebase(conn, stored)))
        stored = await writeRows(conn, rows, replica);
      if (stored !== expected()) throw new StaleVersionError(stored, expected());
      await sql.raw('commit').execute(conn);
    } catch (err) {
      // A failed commit has ended the transaction already: the rollback is then a no-op warning.
      await sql
        .raw('rollback')
        .execute(conn)
        .catch(() => undefined);
      throw err;
    }
  });
}

/**
 * Called under the write lock when other replicas stored versions after those the batch was checked
 * against (`stored` is the newest): true once the registry took them in and numbered every staged
 * write on from them (the batch is then written as it now is); false to refuse the batch.
 */
export type Rebase = (conn: Db, stored: number) => Promise<boolean>;

/**
 * Writes the rows if the newest stored version is the one before them; answers the newest stored
 * version either way (nothing is written when it is not that one).
 */
async function writeRows(conn: Db, rows: VersionRow[], replica: string): Promise<number> {
  const expected = (rows[0] as VersionRow).version - 1;
  const last = rows[rows.length - 1] as VersionRow;
  const c = columns(rows);
  const { versions: v, changes: ch, upserts: u } = c;
  const res = await sql<{ v: number | string }>`
    with top as (select coalesce(max(version), 0) as v from versions),
    ok as (select 1 from top where v = ${expected}),
    iv as (
      insert into versions (version, at, actor, source, reason)
      select * from unnest(${v.version}::int[], ${v.at}::text[], ${v.actor}::text[],
        ${v.source}::text[], ${v.reason}::text[])
      where exists (select 1 from ok)
    ),
    ic as (
      insert into changes (version, name, before, after)
      select * from unnest(${ch.version}::int[], ${ch.name}::text[], ${ch.before}::text[],
        ${ch.after}::text[])
      where exists (select 1 from ok)
    ),
    us as (
      insert into services (name, source, owner, spec, created_at, updated_at)
      select * from unnest(${u.name}::text[], ${u.source}::text[], ${u.owner}::text[],
        ${u.spec}::text[], ${u.created_at}::text[], ${u.updated_at}::text[])
      where exists (select 1 from ok)
      on conflict (name) do update set source = excluded.source, owner = excluded.owner,
        spec = excluded.spec, created_at = excluded.created_at, updated_at = excluded.updated_at
    ),
    ds as (
      delete from services where name = any(${c.deletes}::text[]) and exists (select 1 from ok)
    )
    select v, case when v = ${expected}
      then pg_notify(${VERSIONS_CHANNEL}, ${`${last.version} ${replica}`}) end as notified
    from top`.execute(conn);
  return Number(res.rows[0]?.v ?? 0);
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

/** A version's default reason: what it puts and deletes (the first five, and how many more). */
export function describe(changes: [string, ServiceRecord | undefined][]): string {
  const parts = changes.slice(0, 5).map(([n, r]) => `${r ? 'put' : 'delete'} ${n}`);
  return parts.join(', ') + (changes.length > 5 ? ` and ${changes.length - 5} more` : '');
}
