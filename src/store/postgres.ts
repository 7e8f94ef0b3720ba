import { CompiledQuery, Kysely, PostgresDialect } from 'kysely';
import type { Pool } from 'pg';
import { GatehouseError } from '../model/errors.js';
import type { Database, Db } from './db.js';
import { migratedOrClosed } from './migrate.js';

type Pg = (typeof import('pg'))['default'];
let loaded: Promise<Pg> | undefined;

/** pg, loaded on first use: an installation on SQLite never loads it (a few MB less). */
export function loadPg(): Promise<Pg> {
  loaded ??= import('pg').then(({ default: pg }) => {
    // int8 (bigint columns, count(*), sum) comes back as a string by default; every value Gatehouse
    // keeps there (counts, milliseconds since the epoch) fits a double exactly.
    pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));
    // numeric (sum over integers): same reasoning.
    pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v: string) => Number(v));
    return pg;
  });
  return loaded;
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '';
    const user = u.username ? `${u.username}@` : '';
    return `${u.protocol}//${user}${u.host}${u.pathname}`;
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

/** The PostgreSQL pool under each database `openPostgres` opened. */
const pools = new WeakMap<Db, Pool>();

export function poolOf(db: Db): Pool | undefined {
  return pools.get(db);
}

/**
 * Opens the PostgreSQL database at `url` and brings its schema up to date. An unreachable database
 * is a `db_unreachable` error naming the URL without its password.
 */
export async function openPostgres(url: string, opts: { max?: number } = {}): Promise<Db> {
  const db = await connect(url, opts.max ?? 10);
  return migratedOrClosed(db);
}

/** Opens without migrating (for `doctor`, which changes nothing). */
export function openPostgresForCheck(url: string): Promise<Db> {
  return connect(url, 1);
}

/**
 * A replica's machine can die without a word (power, panic, a pulled cable): PostgreSQL keeps its
 * sessions, and the versions write lock one of them may hold mid-transaction, until TCP gives the
 * peer up: two hours for an idle session by default, ~15 min when an answer went unacknowledged.
 * Every other replica's writes wait that long. Each session asks for ~8 s instead (keepalive
 * probes, and a limit on unacknowledged data); a server that knows no such setting ignores it.
 */
export const DEAD_PEER_SQL =
  'set tcp_keepalives_idle = 5; set tcp_keepalives_interval = 1; set tcp_keepalives_count = 3; set tcp_user_timeout = 8000';

async function connect(url: string, max: number): Promise<Db> {
  const pg = await loadPg();
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 5000 });
  // An idle client losing its server (database restarted) must not crash the process; the pool
  // drops it and the next query opens a new one.
  pool.on('error', () => undefined);
  try {
    const client = await pool.connect();
    client.release();
  } catch (err) {
    await pool.end().catch(() => undefined);
    const reason = err instanceof Error ? err.message : String(err);
    throw new GatehouseError(
      'db_unreachable',
      `cannot reach the database at ${redactUrl(url)}: ${reason}`,
      503,
    );
  }
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({
      pool,
      // Awaited before the connection's first query (a query sent while another runs is deprecated
      // in pg and refused in pg 9).
      onCreateConnection: async (conn) => {
        await conn.executeQuery(CompiledQuery.raw(DEAD_PEER_SQL)).catch(() => undefined);
      },
    }),
  });
  pools.set(db, pool);
  return db;
}
