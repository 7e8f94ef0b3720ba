import { existsSync } from 'node:fs';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { describe, expect, it } from 'vitest';
import {
  fixtureFile,
  loadFixture,
  migrateTo,
  shippedMigrations,
  writeFixtures,
} from '../fixtures/generate.js';

describe('fixture stores, one per shipped schema', () => {
  it('(re)writes them when asked (GATEHOUSE_WRITE_FIXTURES=1: missing ones; =all: every one)', async () => {
    const ask = process.env.GATEHOUSE_WRITE_FIXTURES;
    if (!ask) return;
    const written = await writeFixtures(ask === 'all');
    console.log(`fixtures written: ${written.join(', ') || 'none'}`);
  });

  it('exist for every migration shipped (a new migration needs its fixture)', () => {
    const names = shippedMigrations();
    for (let n = 1; n <= names.length; n++) {
      expect(
        existsSync(fixtureFile(n)),
        `test/fixtures/schema-${n} is missing: run GATEHOUSE_WRITE_FIXTURES=1 npx vitest run --project unit test/unit/copy-fixtures.test.ts`,
      ).toBe(true);
      expect(loadFixture(n).migrations).toEqual(names.slice(0, n));
    }
  });

  it('hold a row in every table, with every column, of the schema they were made by', async () => {
    const names = shippedMigrations();
    for (let n = 1; n <= names.length; n++) {
      const f = loadFixture(n);
      const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new SQLite(':memory:') }) });
      try {
        await migrateTo(db, names[n - 1] as string);
        const tables = (await db.introspection.getTables()).filter((t) => !t.name.startsWith('kysely_'));
        expect(Object.keys(f.tables).sort(), `schema-${n}`).toEqual(tables.map((t) => t.name).sort());
        for (const t of tables) {
          const rows = f.tables[t.name] ?? [];
          expect(rows.length, `schema-${n} ${t.name}`).toBeGreaterThan(0);
          for (const r of rows)
            expect(Object.keys(r).sort(), `schema-${n} ${t.name}`).toEqual(
              t.columns.map((c) => c.name).sort(),
            );
        }
      } finally {
        await db.destroy();
      }
    }
  });
});
