import { afterAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { GatehouseError } from '../../src/model/errors.js';
import { checkDb, dialectOf } from '../../src/store/db.js';
import { migrations } from '../../src/store/migrations.js';
import { openDatabase } from '../../src/store/open.js';
import { join } from 'node:path';
import { testDir } from '../helpers/tmp.js';
import { sharedPostgres, STORES, stopSharedPostgres, type StoreKind } from '../helpers/postgres.js';

afterAll(stopSharedPostgres);

/** A store that survives being closed: a SQLite file, or a PostgreSQL database. */
async function target(kind: StoreKind): Promise<string> {
  if (kind === 'sqlite') return join(await testDir('store-'), 'gatehouse.db');
  return (await sharedPostgres()).createDatabase();
}

describe.each(STORES)('store (%s)', (kind) => {
  it('migrates a new database to the latest schema, and again finds nothing to do', async () => {
    const where = await target(kind);
    const db = await openDatabase(where);
    expect(dialectOf(db)).toBe(kind);
    const { rows } = await sql<{ name: string }>`select name from kysely_migration`.execute(db);
    expect(rows.map((r) => r.name).sort()).toEqual(Object.keys(migrations).sort());
    expect(await checkDb(db)).toMatch(/^ok \(version 0, 0 services\)/);
    await db.destroy();
    const again = await openDatabase(where);
    await again.destroy();
  });

  it('refuses a database a newer Gatehouse migrated, naming the migration', async () => {
    const where = await target(kind);
    const db = await openDatabase(where);
    await sql`insert into kysely_migration (name, timestamp) values ('9999_from_the_future', '2030-01-01T00:00:00.000Z')`.execute(
      db,
    );
    await db.destroy();
    const err = await openDatabase(where).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GatehouseError);
    expect((err as GatehouseError).code).toBe('schema_too_new');
    expect((err as GatehouseError).message).toContain('9999_from_the_future');
  });

  it('counts and maxima come back as numbers', async () => {
    const db = await openDatabase(await target(kind));
    await db
      .insertInto('versions')
      .values({ version: 3, at: 'x', actor: 'a', source: 'api', reason: '' })
      .execute();
    const row = await db
      .selectFrom('versions')
      .select((eb) => [eb.fn.countAll().as('n'), eb.fn.max('version').as('v')])
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ n: 1, v: 3 });
    await db.destroy();
  });
});

describe('store (postgres only)', () => {
  it('two processes starting together: one migrates, the other waits and finds it done', async () => {
    const url = await (await sharedPostgres()).createDatabase();
    const [a, b] = await Promise.all([openDatabase(url), openDatabase(url)]);
    const { rows } = await sql<{ n: number }>`select count(*) as n from kysely_migration`.execute(a);
    expect(rows[0]?.n).toBe(Object.keys(migrations).length);
    await Promise.all([a.destroy(), b.destroy()]);
  });

  it('every pooled connection gives a dead peer up in ~8 s (keepalive settings set before its first query)', async () => {
    const url = await (await sharedPostgres()).createDatabase();
    const db = await openDatabase(url);
    // Several at once, so the pool opens more than one connection.
    const seen = await Promise.all(
      Array.from({ length: 4 }, () =>
        db.connection().execute(async (c) => {
          const { rows } = await sql<{
            t: string;
            i: string;
          }>`select current_setting('tcp_user_timeout') as t,
            current_setting('tcp_keepalives_idle') as i, pg_sleep(0.05)`.execute(c);
          return rows[0];
        }),
      ),
    );
    for (const r of seen) expect(r).toMatchObject({ t: '8000', i: '5' });
    await db.destroy();
  });

  it('an unreachable database is one line naming the URL without its password', async () => {
    const err = await openDatabase('postgres://gh:s3cret@127.0.0.1:1/nope').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GatehouseError);
    const msg = (err as GatehouseError).message;
    expect(msg).toMatch(/^cannot reach the database at postgres:\/\/gh@127\.0\.0\.1:1\/nope: /);
    expect(msg).not.toContain('s3cret');
    expect(msg).not.toContain('\n');
  });
});
