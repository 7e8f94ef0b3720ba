import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import { serviceSchema } from '../../src/model/service.js';
import { storeConfigHash } from '../../src/compile/store-hash.js';
import { COPY_TABLES } from '../../src/store/copy.js';
import type { Db } from '../../src/store/db.js';
import { migrationState } from '../../src/store/migrate.js';
import { openDatabase } from '../../src/store/open.js';
import { Sealer } from '../../src/store/secrets.js';
import { loadFixture, seedFixture, shippedMigrations, type Fixture } from '../fixtures/generate.js';
import type { Row } from '../fixtures/rows.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { testDir } from '../helpers/tmp.js';

/**
 * Every fixture store (one per schema version shipped, test/fixtures/schema-N) is put into a fresh
 * SQLite file and a fresh PostgreSQL database at exactly its schema, then opened the way Gatehouse
 * opens its store (which migrates it to the current schema): every row is still there with every
 * value, the columns added since hold their defaults, sealed values open with the fixture's key, and
 * both compile to the config the fixture's own services and certificates compile to.
 */

const N = shippedMigrations().length;
const SCHEMAS = Array.from({ length: N }, (_, i) => i + 1);

/** The config hash the fixture's services and certificates compile to, without any database. */
function expectedHash(f: Fixture, now: number): string {
  const services = (f.tables.services ?? []).map((r) => serviceSchema.parse(JSON.parse(String(r.spec))));
  const certs = (f.tables.certificates ?? [])
    .filter((c) => String(c.not_after) > new Date(now).toISOString())
    .map((c) => ({
      id: String(c.id),
      fingerprint: String(c.fingerprint),
      names: JSON.parse(String(c.names)) as string[],
      notAfter: String(c.not_after),
      notBefore: String(c.not_before),
      createdAt: String(c.created_at),
    }));
  return compile({ services, listeners: { http: 80, https: 443 }, certs }).hash;
}

const canon = (rows: Row[]): string[] => rows.map((r) => JSON.stringify(r)).sort();

/** The rows of `table`, with only the columns the fixture's rows have. */
async function projected(db: Db, table: string, columns: string[]): Promise<Row[]> {
  const rows = (await db
    .selectFrom(table as (typeof COPY_TABLES)[number])
    .selectAll()
    .execute()) as Row[];
  return rows.map((r) => Object.fromEntries(columns.map((c) => [c, r[c] ?? null])));
}

/** The fixture at its schema in SQLite, then opened (and migrated) as Gatehouse opens its store. */
async function onSqlite(f: Fixture): Promise<Db> {
  const file = join(await testDir(`fx${f.schema}-`), 'gatehouse.db');
  const raw = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new SQLite(file) }) });
  await seedFixture(raw, f);
  await raw.destroy();
  return openDatabase(file);
}

/** The same in a fresh PostgreSQL database. */
async function onPostgres(pgc: TestPostgres, f: Fixture): Promise<Db> {
  const url = await pgc.createDatabase();
  const raw = new Kysely<unknown>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }),
  });
  await seedFixture(raw, f);
  // The fixture's ids were given, not drawn: its sequences stand where a real database's would.
  for (const [table, rows] of Object.entries(f.tables))
    if (rows[0] && 'id' in rows[0] && typeof rows[0].id === 'number')
      await sql`select setval(pg_get_serial_sequence(${table}, 'id'), (select max(id) from ${sql.table(table)}))`.execute(
        raw,
      );
  await raw.destroy();
  return openDatabase(url);
}

describe('every shipped schema migrates to the current one, on SQLite and PostgreSQL, losing nothing', () => {
  let pgc: TestPostgres;
  beforeAll(async () => {
    pgc = await startPostgres();
  });
  afterAll(async () => {
    await pgc?.stop().catch(() => undefined);
  });

  it.each(SCHEMAS)('schema-%i', async (n) => {
    const f = loadFixture(n);
    const now = Date.now();
    const want = expectedHash(f, now);
    const dir = await testDir(`fx-key-${n}-`);
    writeFileSync(join(dir, 'data.key'), f.data_key + '\n', { mode: 0o600 });
    const hashes: string[] = [];
    for (const [kind, open] of [
      ['sqlite', () => onSqlite(f)],
      ['postgres', () => onPostgres(pgc, f)],
    ] as const) {
      const db = await open();
      const at = `schema-${n} on ${kind}`;
      try {
        const state = await migrationState(db);
        expect(state.pending, at).toEqual([]);
        expect(state.unknown, at).toEqual([]);
        // Every row, every value the fixture had.
        for (const [table, rows] of Object.entries(f.tables)) {
          const columns = Object.keys(rows[0] ?? {});
          expect(canon(await projected(db, table, columns)), `${at}: ${table}`).toEqual(canon(rows));
        }
        // Columns added since hold their defaults; those the fixture had keep its values.
        const alice = await db
          .selectFrom('users')
          .selectAll()
          .where('username', '=', 'alice')
          .executeTakeFirst();
        if (n >= 2) {
          expect(alice?.email, at).toBe('alice@example.test');
          expect(alice?.totp_last_step, at).toBe(n >= 5 ? 59_000_123 : -1);
          expect(alice?.managed_by, at).toBe('');
        }
        const api = await db
          .selectFrom('services')
          .selectAll()
          .where('name', '=', 'api')
          .executeTakeFirstOrThrow();
        expect(api.owner, at).toBe(n >= 10 ? 'agent-api' : '');
        expect(JSON.parse(api.spec), at).toMatchObject({ hosts: ['api.example.test'] });
        if (n >= 8) {
          const edge = await db
            .selectFrom('nodes')
            .selectAll()
            .where('name', '=', 'edge-1')
            .executeTakeFirstOrThrow();
          expect(edge.down_servers, at).toBe(n >= 9 ? '["web 10.0.0.2:8080"]' : '[]');
          expect(edge.applied_version, at).toBe(n >= 9 ? (f.tables.services ?? []).length : 0);
        }
        if (n >= 2) {
          const ev = await db.selectFrom('events').selectAll().where('id', '=', 1).executeTakeFirstOrThrow();
          expect(ev.host, at).toBe(n >= 13 ? 'intranet.example.test' : '');
          // Ids go on after the largest kept: a new event does not collide with an old one.
          const next = await db
            .insertInto('events')
            .values({
              at: new Date(now).toISOString(),
              kind: 'login_ok',
              ip: '10.0.0.1',
              username: 'alice',
              detail: '',
            })
            .returning('id')
            .executeTakeFirstOrThrow();
          expect(next.id, at).toBe(8);
          // Sealed values open with the fixture's data key (Sealer.load checks the secrets table too).
          const sealer = await Sealer.load(dir, undefined, db);
          expect(sealer.open(alice?.totp_secret ?? ''), at).toBe('JBSWY3DPEHPK3PXP');
        }
        if (n >= 6) {
          const cert = await db.selectFrom('certificates').selectAll().executeTakeFirstOrThrow();
          const key = (await Sealer.load(dir, undefined, db)).open(cert.key_sealed);
          expect(key, at).toContain('BEGIN PRIVATE KEY');
        }
        // The config it compiles to: the fixture's own.
        const h = await storeConfigHash(db, now);
        expect(h.unloadable, at).toBe(0);
        expect(h.services, at).toBe((f.tables.services ?? []).length);
        expect(h.hash, at).toBe(want);
        hashes.push(h.hash);
      } finally {
        await db.destroy();
      }
    }
    expect(hashes).toHaveLength(2);
    expect(hashes[0]).toBe(hashes[1]);
  });
});
