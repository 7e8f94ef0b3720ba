import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse } from '../../src/gatehouse.js';
import { createLogger } from '../../src/observe/log.js';
import { readBackup } from '../../src/store/backup.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, json, type TestServer } from '../helpers/net.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { testDir } from '../helpers/tmp.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'gatehouse.js');

describe('Gatehouse on PostgreSQL', () => {
  let pgc: TestPostgres;
  let t: TestGatehouse;
  let a: TestServer;
  beforeAll(async () => {
    pgc = await startPostgres();
    a = await echoBackend('a');
    t = await startTestGatehouse({ database_url: await pgc.createDatabase() });
  });
  afterAll(async () => {
    await t?.close();
    await a?.close();
    await pgc?.stop().catch(() => undefined);
  });

  it('serves a registered service, keeps users and the audit log', async () => {
    const r = await t.api('POST', '/api/v1/services?wait=true', {
      name: 'app',
      hosts: ['app.test'],
      routes: [{ path: '/', upstreams: [`127.0.0.1:${a.port}`] }],
    });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    expect((await t.get('app.test')).status).toBe(200);
    const u = await t.api('POST', '/api/v1/users', { username: 'eve', password: 'eve password 1' });
    expect(u.status, JSON.stringify(u.json)).toBe(201);
    // A user (not an admin) signing in to the API is refused with 403: the password was checked.
    const signIn = await json(t.apiPort, 'POST', '/api/v1/session', {
      username: 'eve',
      password: 'eve password 1',
    });
    expect(signIn.status).toBe(403);
    const audit = (await t.api('GET', '/api/v1/audit?limit=10')).json as {
      entries: { method: string; path: string }[];
    };
    expect(audit.entries.some((e) => e.path.startsWith('/api/v1/services'))).toBe(true);
    expect(audit.entries.some((e) => e.path === '/api/v1/users')).toBe(true);
    // The store is PostgreSQL: the data dir holds no SQLite file to mislead anyone.
    expect(existsSync(join(t.dataDir, 'gatehouse.db'))).toBe(false);
  });

  it('serves the same state after a restart', async () => {
    const settings = t.gh.settings;
    await t.gh.close();
    t.gh = await startGatehouse(settings, createLogger('silent'));
    expect((await t.get('app.test')).status).toBe(200);
    const users = (await t.api('GET', '/api/v1/users')).json as { users: { username: string }[] };
    expect(users.users.map((x) => x.username)).toContain('eve');
  });

  it('database gone: a write answers 503, nginx keeps serving; back: writes succeed again', async () => {
    await pgc.stop();
    const w = await t.api('POST', '/api/v1/services?wait=true', {
      name: 'b',
      hosts: ['b.test'],
      routes: [{ path: '/', upstreams: [`127.0.0.1:${a.port}`] }],
    });
    expect(w.status, JSON.stringify(w.json)).toBe(503);
    expect(JSON.stringify(w.json)).toContain('nothing of it was stored');
    expect((await t.get('app.test')).status).toBe(200);
    await pgc.start();
    const again = await t.api('POST', '/api/v1/services?wait=true', {
      name: 'b',
      hosts: ['b.test'],
      routes: [{ path: '/', upstreams: [`127.0.0.1:${a.port}`] }],
    });
    expect(again.status, JSON.stringify(again.json)).toBe(201);
    expect((await t.get('b.test')).status).toBe(200);
  });

  it('gatehouse backup create reads the PostgreSQL store; restore into that (non-empty) database is refused', async () => {
    const dir = await testDir('gh-pg-backup-');
    const out = join(dir, 'pg.ghbk');
    const env = {
      ...process.env,
      GATEHOUSE_DATABASE_URL: t.gh.settings.database_url,
      GATEHOUSE_BACKUP_PASSPHRASE: 'pg backup passphrase',
    };
    const run = promisify(execFile);
    await run(process.execPath, [BIN, 'backup', 'create', '-o', out, '--data-dir', t.dataDir], {
      env,
      timeout: 30_000,
    });
    const lines = readBackup(readFileSync(out), 'pg backup passphrase') as {
      t?: string;
      r?: { name?: string };
    }[];
    expect(lines.some((l) => l.t === 'services' && l.r?.name === 'app')).toBe(true);
    const refused = await run(
      process.execPath,
      [BIN, 'backup', 'restore', out, '--data-dir', join(dir, 'new')],
      {
        env,
        timeout: 30_000,
      },
    ).then(
      () => undefined,
      (e: unknown) => e as { code: number; stderr: string },
    );
    expect(refused?.code).not.toBe(0);
    // Restoring into an empty PostgreSQL database works (backup.test.ts); this one holds the installation.
    expect(refused?.stderr).toMatch(/is not empty \(.*services: \d+.*\): restore into an empty database/);
    expect(existsSync(join(dir, 'new', 'data.key'))).toBe(false);
  });

  it('gatehouse up with an unreachable database: one line without the password, non-zero exit', async () => {
    const dataDir = await testDir('gh-pg-cli-');
    const err = await promisify(execFile)(process.execPath, [BIN, 'up', '--data-dir', dataDir], {
      env: { ...process.env, GATEHOUSE_DATABASE_URL: 'postgres://gh:s3cret@127.0.0.1:1/nope' },
      timeout: 30_000,
    }).then(
      () => undefined,
      (e: unknown) => e as { code: number; stderr: string },
    );
    expect(err?.code).not.toBe(0);
    const lines = (err?.stderr ?? '').trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/cannot reach the database at postgres:\/\/gh@127\.0\.0\.1:1\/nope: /);
    expect(err?.stderr).not.toContain('s3cret');
  });
});
