import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse } from '../../src/gatehouse.js';
import { restoreBackupToPostgres } from '../../src/store/backup-restore-pg.js';
import { BackupWriter } from '../../src/store/backup.js';
import { openDatabase } from '../../src/store/open.js';
import { createLogger } from '../../src/observe/log.js';
import {
  ADMIN_TOKEN,
  loopbackSettings,
  startTestGatehouse,
  type TestGatehouse,
} from '../helpers/gatehouse.js';
import { Browser } from '../helpers/browser.js';
import { freePort, http, json, startServer, until, type TestServer } from '../helpers/net.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { testDir } from '../helpers/tmp.js';

const root = resolve(import.meta.dirname, '..', '..');
const PASS = 'a backup passphrase for tests';

function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; out: string }> {
  return new Promise((done) => {
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_')),
    );
    const p = spawn(process.execPath, [join(root, 'bin', 'gatehouse.js'), ...args], {
      env: { ...clean, ...env },
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', (code) => done({ code, out }));
  });
}

describe('backups: scheduled, downloaded, restored into a new data dir', () => {
  let t: TestGatehouse;
  let app: TestServer;

  beforeAll(async () => {
    process.env.GATEHOUSE_BACKUP_PASSPHRASE = PASS;
    app = await startServer((_req, res) => res.end('app'), await freePort());
    t = await startTestGatehouse({ backup_interval: '300ms', backup_keep: 2 });
  });
  afterAll(async () => {
    delete process.env.GATEHOUSE_BACKUP_PASSPHRASE;
    await t?.close();
    await app?.close();
  });

  it('keeps only backup_keep scheduled backups, downloads one, and restores it elsewhere', async () => {
    const put = await t.api('PUT', '/api/v1/services/web?wait=true', {
      hosts: ['web.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
    });
    expect(put.status).toBe(201);
    // Wait for several runs: the directory never holds more than backup_keep.
    await until(async () => {
      const r = await t.api('GET', '/api/v1/backups');
      return (r.json as { last: { file?: string } | null }).last?.file ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 1500));
    expect(readdirSync(join(t.dataDir, 'backups')).filter((n) => n.endsWith('.ghbk'))).toHaveLength(2);

    const made = await t.api('POST', '/api/v1/backups');
    expect(made.status).toBe(201);
    const name = (made.json as { name: string }).name;
    const bad = await t.api('GET', '/api/v1/backups/..%2Fdata.key');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toContain('name');
    const dl = await fetch(`http://127.0.0.1:${t.apiPort}/api/v1/backups/${name}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(dl.status).toBe(200);
    const work = await testDir('bk-');
    chmodSync(work, 0o711); // nginx's workers enter the data dir below it
    const file = join(work, 'dl.ghbk');
    writeFileSync(file, Buffer.from(await dl.arrayBuffer()));

    // Restore: a missing passphrase and a wrong one change nothing.
    const target = join(work, 'odd.path_restored+dir');
    const none = await cli(['--data-dir', target, 'backup', 'restore', file]);
    expect(none.code).not.toBe(0);
    expect(none.out).toContain('GATEHOUSE_BACKUP_PASSPHRASE');
    const wrong = await cli(['--data-dir', target, 'backup', 'restore', file], {
      GATEHOUSE_BACKUP_PASSPHRASE: 'not it',
    });
    expect(wrong.code).not.toBe(0);
    expect(wrong.out).toContain('passphrase');
    expect(existsSync(target)).toBe(false);
    // Onto the data dir of a running Gatehouse: refused.
    const live = await cli(['--data-dir', t.dataDir, 'backup', 'restore', file], {
      GATEHOUSE_BACKUP_PASSPHRASE: PASS,
    });
    expect(live.code).not.toBe(0);
    expect(live.out).toContain('stop it before restoring');
    const ok = await cli(['--data-dir', target, 'backup', 'restore', file], {
      GATEHOUSE_BACKUP_PASSPHRASE: PASS,
    });
    expect(ok.out).toContain('restored');
    expect(ok.code).toBe(0);
    // Into the live (non-empty) installation: refused.
    const busy = await cli(['--data-dir', target, 'backup', 'restore', file], {
      GATEHOUSE_BACKUP_PASSPHRASE: PASS,
    });
    expect(busy.code).not.toBe(0);
    expect(busy.out).toContain('empty installation');

    // The restored installation serves the same through nginx.
    const { settings, httpPort } = await loopbackSettings(target, {
      nginx_workers: 1,
      base_domain: 'gw.test',
    });
    const gh = await startGatehouse(settings, createLogger('silent'));
    try {
      const r = await http(httpPort, 'web.test');
      expect(r.status).toBe(200);
      expect(r.body).toBe('app');
    } finally {
      await gh.close();
    }
  });

  it('refuses to start with backup_interval set and no passphrase, naming the setting', async () => {
    delete process.env.GATEHOUSE_BACKUP_PASSPHRASE;
    try {
      await expect(startTestGatehouse({ backup_interval: '1h' })).rejects.toThrow(/backup_interval/);
    } finally {
      process.env.GATEHOUSE_BACKUP_PASSPHRASE = PASS;
    }
  });
});

describe('backup of a SQLite Gatehouse restored into an empty PostgreSQL database', () => {
  let pgc: TestPostgres;
  let t: TestGatehouse;
  let app: TestServer;

  beforeAll(async () => {
    pgc = await startPostgres();
    app = await startServer((_req, res) => res.end('app'), await freePort());
    t = await startTestGatehouse();
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
    await pgc?.stop().catch(() => undefined);
  });

  it('serves the same through nginx from PostgreSQL, with the session still valid', async () => {
    const up = [`127.0.0.1:${app.port}`];
    const put = (name: string, body: unknown) => t.api('PUT', `/api/v1/services/${name}?wait=true`, body);
    expect((await put('web', { hosts: ['web.gw.test'], routes: [{ upstreams: up }] })).status).toBe(201);
    const guarded = { hosts: ['wiki.gw.test'], routes: [{ upstreams: up }], access: { login: {} } };
    expect((await put('wiki', guarded)).status).toBe(201);
    expect(
      (await t.api('POST', '/api/v1/users', { username: 'bob', password: 'bob password 1' })).status,
    ).toBe(201);
    const browser = new Browser(t.httpPort);
    await browser.login('bob', 'bob password 1', 'auth.gw.test');
    const cookie = { cookie: `gh_session=${String(browser.cookie)}` };
    const answers = async (port: number) => ({
      web: await http(port, 'web.gw.test').then((r) => [r.status, r.body]),
      wikiIn: await http(port, 'wiki.gw.test', '/', { headers: cookie }).then((r) => [r.status, r.body]),
      wikiOut: (await http(port, 'wiki.gw.test', '/', { headers: { accept: 'application/json' } })).status,
    });
    const before = await answers(t.httpPort);
    expect(before).toEqual({ web: [200, 'app'], wikiIn: [200, 'app'], wikiOut: 401 });
    const services = async (apiPort: number) =>
      (
        (
          await json(apiPort, 'GET', '/api/v1/services', undefined, {
            authorization: `Bearer ${ADMIN_TOKEN}`,
          })
        ).json as { services: { name: string }[] }
      ).services
        .map((x) => x.name)
        .sort();
    const namesBefore = await services(t.apiPort);

    // Backed up while it runs, then stopped: the new installation is PostgreSQL and a new data dir.
    const work = await testDir('bk-pg-');
    chmodSync(work, 0o711);
    const file = join(work, 'live.ghbk');
    const env = { GATEHOUSE_BACKUP_PASSPHRASE: PASS };
    const made = await cli(['--data-dir', t.dataDir, 'backup', 'create', '-o', file], env);
    expect(made.code, made.out).toBe(0);
    await t.gh.close();

    const url = await pgc.createDatabase();
    const target = join(work, 'restored');
    const pgEnv = { ...env, GATEHOUSE_DATABASE_URL: url };
    const unreachable = await cli(['--data-dir', target, 'backup', 'restore', file], {
      ...env,
      GATEHOUSE_DATABASE_URL: 'postgres://gh:s3cret@127.0.0.1:1/nope',
    });
    expect(unreachable.code).not.toBe(0);
    expect(unreachable.out).toContain('cannot reach the database at postgres://gh@127.0.0.1:1/nope');
    expect(unreachable.out).not.toContain('s3cret');
    expect(existsSync(target)).toBe(false);
    const ok = await cli(['--data-dir', target, 'backup', 'restore', file], pgEnv);
    expect(ok.out).toMatch(/^services: 2 rows$/m);
    expect(ok.out).toContain('restored a backup of Gatehouse');
    expect(ok.code).toBe(0);
    expect(existsSync(join(target, 'data.key'))).toBe(true);
    expect(existsSync(join(target, 'gatehouse.db'))).toBe(false);
    // Again into the now non-empty database (and a fresh data dir): refused, naming what is there.
    const again = await cli(['--data-dir', join(work, 'other'), 'backup', 'restore', file], pgEnv);
    expect(again.code).not.toBe(0);
    expect(again.out).toMatch(/is not empty \(.*services: 2.*\): restore into an empty database/);

    const { settings, httpPort, apiPort } = await loopbackSettings(target, {
      nginx_workers: 1,
      base_domain: 'gw.test',
      admin_token: ADMIN_TOKEN,
      database_url: url,
    });
    t.gh = await startGatehouse(settings, createLogger('silent'));
    expect(await answers(httpPort)).toEqual(before);
    expect(await services(apiPort)).toEqual(namesBefore);
    // Writes go on after the restored ids (audit and events are serial columns on PostgreSQL).
    const late = await json(
      apiPort,
      'PUT',
      '/api/v1/services/late?wait=true',
      { hosts: ['late.gw.test'], routes: [{ upstreams: up }] },
      { authorization: `Bearer ${ADMIN_TOKEN}` },
    );
    expect(late.status, JSON.stringify(late.json)).toBe(201);
    expect((await http(httpPort, 'late.gw.test')).status).toBe(200);
    const audit = await json(apiPort, 'GET', '/api/v1/audit?limit=100', undefined, {
      authorization: `Bearer ${ADMIN_TOKEN}`,
    });
    const paths = (audit.json as { entries: { path: string }[] }).entries.map((e) => e.path);
    expect(paths).toContain('/api/v1/services/late');
    expect(paths).toContain('/api/v1/services/web');
    const again2 = new Browser(httpPort);
    await again2.login('bob', 'bob password 1', 'auth.gw.test');
    expect(
      (
        await http(httpPort, 'wiki.gw.test', '/', {
          headers: { cookie: `gh_session=${String(again2.cookie)}` },
        })
      ).status,
    ).toBe(200);
  }, 120_000);

  it('restores a backup from an older schema through the migrations', async () => {
    const dir = await testDir('bk-old-');
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
    const url = await pgc.createDatabase();
    // A database a Gatehouse migrated but never filled counts as empty.
    await (await openDatabase(url)).destroy();
    await restoreBackupToPostgres(readFileSync(file), 'pw', url, join(dir, 'data'));
    const db = await openDatabase(url);
    try {
      expect(await db.selectFrom('services').select(['name', 'owner']).execute()).toEqual([
        { name: 'old', owner: '' },
      ]);
    } finally {
      await db.destroy();
    }
  });
});
