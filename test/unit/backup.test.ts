import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import {
  BACKUP_TABLES,
  BackupWriter,
  checkMigrations,
  createBackup,
  readBackup,
  restoreBackup,
} from '../../src/store/backup.js';
import { openSqlite } from '../../src/store/db.js';
import { testDir } from '../helpers/tmp.js';

async function sample(): Promise<{ dir: string; file: string }> {
  const dir = await testDir('backup-');
  const db = await openSqlite(join(dir, 'gatehouse.db'));
  const now = new Date().toISOString();
  await db
    .insertInto('services')
    .values({
      name: 'web',
      source: 'api',
      owner: '',
      spec: '{"name":"web"}',
      created_at: now,
      updated_at: now,
    })
    .execute();
  writeFileSync(join(dir, 'data.key'), 'k'.repeat(32), { mode: 0o600 });
  mkdirSync(join(dir, 'secrets'), { mode: 0o700 });
  writeFileSync(join(dir, 'secrets', 'admin-token.sha256'), 'ab'.repeat(32) + '\n', { mode: 0o600 });
  const file = join(dir, 'b.ghbk');
  await createBackup(db, dir, file, 'correct horse', '0.1.0');
  await db.destroy();
  return { dir, file };
}

describe('backup', () => {
  it('names every table the migrations create', async () => {
    const dir = await testDir('backup-');
    const db = await openSqlite(join(dir, 'gatehouse.db'));
    await db.destroy();
    const s = new SQLite(join(dir, 'gatehouse.db'), { readonly: true });
    const names = (
      s.prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%'").all() as {
        name: string;
      }[]
    )
      .map((r) => r.name)
      .filter((n) => !n.startsWith('kysely_'));
    s.close();
    expect([...BACKUP_TABLES].sort()).toEqual(names.sort());
  });

  it('round-trips rows and files, 0600', async () => {
    const { file } = await sample();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const target = await testDir('restore-');
    const head = await restoreBackup(
      readFileSync(file),
      'correct horse',
      join(target, 'gatehouse.db'),
      target,
    );
    expect(head.gatehouse).toBe('0.1.0');
    expect(readFileSync(join(target, 'data.key'), 'utf8')).toBe('k'.repeat(32));
    // The generated admin token's hash: the token printed at first start still works.
    expect(readFileSync(join(target, 'secrets', 'admin-token.sha256'), 'utf8')).toBe('ab'.repeat(32) + '\n');
    expect(statSync(join(target, 'secrets', 'admin-token.sha256')).mode & 0o777).toBe(0o600);
    const db = await openSqlite(join(target, 'gatehouse.db'));
    expect((await db.selectFrom('services').select('name').execute()).map((r) => r.name)).toEqual(['web']);
    await db.destroy();
    // A second restore into the now non-empty installation is refused.
    await expect(
      restoreBackup(readFileSync(file), 'correct horse', join(target, 'gatehouse.db'), target),
    ).rejects.toMatchObject({ code: 'restore_not_empty' });
  });

  it('refuses a wrong passphrase and a tampered file', async () => {
    const { file } = await sample();
    const buf = readFileSync(file);
    expect(() => readBackup(buf, 'wrong')).toThrow(expect.objectContaining({ code: 'backup_passphrase' }));
    const bad = Buffer.from(buf);
    bad[bad.length - 30] = (bad[bad.length - 30] ?? 0) ^ 1;
    expect(() => readBackup(bad, 'correct horse')).toThrow(
      expect.objectContaining({ code: 'backup_passphrase' }),
    );
    expect(() => readBackup(Buffer.from('hello world, not a backup at all'), 'x')).toThrow(
      expect.objectContaining({ code: 'backup_format' }),
    );
  });

  it('refuses a backup naming an unknown migration', () => {
    expect(() => checkMigrations(['0001_registry', '9999_future'])).toThrow(
      expect.objectContaining({ code: 'backup_too_new', message: expect.stringContaining('9999_future') }),
    );
  });
  it('restores a backup made at an older schema through the later migrations', async () => {
    const dir = await testDir('old-');
    const file = join(dir, 'old.ghbk');
    const w = new BackupWriter(file, 'pw');
    w.line({
      kind: 'gatehouse-backup',
      gatehouse: '0.0.1',
      created_at: 'then',
      migrations: ['0001_registry'],
    });
    w.line({
      t: 'services',
      r: { name: 'old', source: 'api', spec: '{}', created_at: 'x', updated_at: 'x' },
    });
    w.close();
    const target = join(dir, 'target');
    await restoreBackup(readFileSync(file), 'pw', join(target, 'gatehouse.db'), target);
    const db = await openSqlite(join(target, 'gatehouse.db'));
    expect(await db.selectFrom('services').select(['name', 'owner']).execute()).toEqual([
      { name: 'old', owner: '' },
    ]);
    await db.destroy();
  });
});
