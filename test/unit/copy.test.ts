import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { describe, expect, it } from 'vitest';
import { openSqlite } from '../../src/store/db.js';
import { storeConfigHash } from '../../src/compile/store-hash.js';
import { COPY_TABLES, copyStore, parseLocation, storeTables } from '../../src/store/copy.js';
import { loadFixture, seedFixture, shippedMigrations } from '../fixtures/generate.js';
import { testDir } from '../helpers/tmp.js';

/** A SQLite store file holding fixture `n`, migrated to the current schema when `migrate`. */
async function fixtureFile(n: number, migrate = true): Promise<string> {
  const file = join(await testDir('copy-'), 'gatehouse.db');
  const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new SQLite(file) }) });
  await seedFixture(db, loadFixture(n));
  await db.destroy();
  if (migrate) await (await openSqlite(file)).destroy();
  return file;
}

const latest = shippedMigrations().length;

describe('db copy', () => {
  it('knows every table the migrations create (a new table fails here until the copy knows it)', async () => {
    const db = await openSqlite(':memory:');
    try {
      expect([...COPY_TABLES].sort()).toEqual(await storeTables(db));
    } finally {
      await db.destroy();
    }
  });

  it('reads postgres URLs, sqlite:PATH, plain paths and data dirs; refuses others naming the flag', async () => {
    expect(parseLocation('--from', 'postgres://u:pw@db:5432/gh')).toEqual({
      kind: 'postgres',
      url: 'postgres://u:pw@db:5432/gh',
      label: 'postgres://u@db:5432/gh',
    });
    expect(parseLocation('--to', 'sqlite:///var/lib/gh/x.db')).toMatchObject({
      kind: 'sqlite',
      path: '/var/lib/gh/x.db',
    });
    expect(parseLocation('--to', 'sqlite:/var/lib/gh/x.db')).toMatchObject({
      kind: 'sqlite',
      path: '/var/lib/gh/x.db',
    });
    expect(parseLocation('--to', '/tmp/a.db')).toMatchObject({ kind: 'sqlite', path: '/tmp/a.db' });
    const dir = await testDir('copy-dir-');
    expect(parseLocation('--from', dir)).toMatchObject({ kind: 'sqlite', path: join(dir, 'gatehouse.db') });
    expect(() => parseLocation('--from', 'mysql://x/y')).toThrow(/^--from: unknown database kind mysql:/);
    expect(() => parseLocation('--to', '')).toThrow(/^--to: is empty/);
    expect(() => parseLocation('--to', 'sqlite::memory:')).toThrow(/^--to: names no SQLite file/);
    expect(() => parseLocation('--to', 'postgres://u:secret@/db')).toThrow(
      /^--to: .* is not a valid PostgreSQL URL/,
    );
    expect(() => parseLocation('--to', 'postgres://u:secret@/db')).not.toThrow(/secret/);
    expect(() => parseLocation('--to', 'postgres:///db')).toThrow(/^--to: postgres:\/\/\/db names no host/);
  });

  it('copies every row of every table, checked by counts and the config hash, then refuses a second copy', async () => {
    const from = await fixtureFile(latest);
    const to = join(await testDir('copy-to-'), 'gatehouse.db');
    const seen: string[] = [];
    const report = await copyStore(from, `sqlite:${to}`, storeConfigHash, (t) => seen.push(t));
    expect(seen).toEqual([...COPY_TABLES]);
    const f = loadFixture(latest);
    for (const t of report.tables) expect(t.rows, t.table).toBe(f.tables[t.table]?.length);
    const a = await openSqlite(from);
    const b = await openSqlite(to);
    try {
      for (const t of COPY_TABLES)
        expect(await b.selectFrom(t).selectAll().execute(), t).toEqual(
          await a.selectFrom(t).selectAll().execute(),
        );
      const ha = await storeConfigHash(a);
      expect(ha).toMatchObject({ hash: report.hash, unloadable: 0, services: 7 });
      expect((await storeConfigHash(b)).hash).toBe(ha.hash);
    } finally {
      await a.destroy();
      await b.destroy();
    }
    await expect(copyStore(from, to, storeConfigHash)).rejects.toThrow(
      /^--to: .* is not empty \(acme_challenges: 1, alert_channels: 1, api_keys: 1, audit: 3, .*services: 7.*\): copy into an empty database/,
    );
  }, 30_000);

  it('refuses an older or newer source, a missing one, and a target in a missing directory; leaves nothing behind', async () => {
    const old = await fixtureFile(latest - 1, false);
    const to = join(await testDir('copy-to-'), 'x.db');
    await expect(copyStore(old, to, storeConfigHash)).rejects.toThrow(
      /^--from: .* has an older schema than this Gatehouse \(0022_magic_links not applied\)/,
    );
    const newer = await fixtureFile(latest);
    const s = new SQLite(newer);
    s.prepare("insert into kysely_migration (name, timestamp) values ('9999_future', 'x')").run();
    s.close();
    await expect(copyStore(newer, to, storeConfigHash)).rejects.toThrow(
      /^--from: .* newer schema .*9999_future/,
    );
    await expect(copyStore('/nonexistent/gatehouse.db', to, storeConfigHash)).rejects.toThrow(
      /^--from: there is no SQLite database/,
    );
    await expect(
      copyStore(await fixtureFile(latest), '/nonexistent/dir/x.db', storeConfigHash),
    ).rejects.toThrow(/^--to: the directory/);
    expect(existsSync(to)).toBe(false);
    const junk = join(await testDir('copy-junk-'), 'junk.db');
    writeFileSync(junk, 'not a database at all, just text that is long enough to have a header');
    await expect(copyStore(await fixtureFile(latest), junk, storeConfigHash)).rejects.toThrow(
      /^--to: .*junk\.db cannot be read: file is not a database/,
    );
    await expect(copyStore(junk, to, storeConfigHash)).rejects.toThrow(
      /^--from: .* does not open as a SQLite database/,
    );
  }, 30_000);

  it('refuses a source holding a table it does not know', async () => {
    const from = await fixtureFile(latest);
    const s = new SQLite(from);
    s.exec('create table plugins (name text primary key)');
    s.close();
    const dir = await testDir('copy-to-');
    mkdirSync(dir, { recursive: true });
    await expect(copyStore(from, join(dir, 'x.db'), storeConfigHash)).rejects.toThrow(
      /does not know: plugins/,
    );
  }, 30_000);
});
