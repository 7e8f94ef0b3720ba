import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse } from '../../src/gatehouse.js';
import { createLogger } from '../../src/observe/log.js';
import {
  ADMIN_TOKEN,
  loopbackSettings,
  startTestGatehouse,
  type TestGatehouse,
} from '../helpers/gatehouse.js';
import { freePort, http, startServer, until, type TestServer } from '../helpers/net.js';
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
