import { Migrator, PostgresAdapter, sql, type Kysely, type MigrationProvider } from 'kysely';
import { GatehouseError } from '../model/errors.js';
import { migrations } from './migrations.js';

const provider: MigrationProvider = { getMigrations: async () => migrations };

/** Kysely's own bookkeeping table (its default name). */
const MIGRATION_TABLE = 'kysely_migration';

/**
 * Key of the advisory lock around migrations on PostgreSQL: two replicas starting together must not
 * both migrate; the second waits, then finds nothing to do.
 */
const MIGRATION_LOCK_KEY = 0x67617465; // "gate"

function isPostgres<T>(db: Kysely<T>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/** Migrations applied that this binary does not know (a newer binary ran), and those not applied. */
export async function migrationState<T>(
  db: Kysely<T>,
): Promise<{ applied: string[]; unknown: string[]; pending: string[] }> {
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  if (!tables.some((t) => t.name === MIGRATION_TABLE)) {
    return { applied: [], unknown: [], pending: Object.keys(migrations).sort() };
  }
  const { rows } = await sql<{ name: string }>`select name from ${sql.table(MIGRATION_TABLE)}`.execute(db);
  const applied = rows.map((r) => r.name).sort();
  const known = new Set(Object.keys(migrations));
  const done = new Set(applied);
  return {
    applied,
    unknown: applied.filter((n) => !known.has(n)),
    pending: [...known].filter((n) => !done.has(n)).sort(),
  };
}

/**
 * Brings the schema up to date, refusing a database a newer binary migrated (running older code on
 * a newer schema could lose or corrupt what the newer one wrote).
 */
export async function migrateToLatest<T>(db: Kysely<T>): Promise<void> {
  if (!isPostgres(db)) return migrate(db);
  // A session-level advisory lock on one pinned connection: held across Migrator's transactions.
  await db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`.execute(conn);
    try {
      await migrate(conn);
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`.execute(conn);
    }
  });
}

async function migrate<T>(db: Kysely<T>): Promise<void> {
  const { unknown } = await migrationState(db);
  if (unknown.length > 0) {
    throw new GatehouseError(
      'schema_too_new',
      `the database schema is newer than this Gatehouse (unknown migration ${unknown.join(', ')}); run the newer version`,
      500,
    );
  }
  const { error } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
}

/** `db` with its schema brought up to date; closed when that fails (a store opens migrated or not at all). */
export async function migratedOrClosed<T>(db: Kysely<T>): Promise<Kysely<T>> {
  try {
    await migrateToLatest(db);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return db;
}
