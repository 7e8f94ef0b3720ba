import { spawn } from 'node:child_process';
import { existsSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse } from '../../src/gatehouse.js';
import { totpCode } from '../../src/gate/totp.js';
import type { Settings } from '../../src/model/settings.js';
import { createLogger } from '../../src/observe/log.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, json, type TestServer } from '../helpers/net.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { https, makeCa } from '../helpers/tls.js';
import { freePort } from '../helpers/net.js';
import { testDir } from '../helpers/tmp.js';

const root = resolve(import.meta.dirname, '..', '..');

/** The CLI (dist/), without the test's GATEHOUSE_* environment. */
function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((done) => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_')));
    const p = spawn(process.execPath, [join(root, 'bin', 'gatehouse.js'), ...args], { env });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => done({ code, out, err }));
  });
}

describe('gatehouse db copy: a running installation moved SQLite → PostgreSQL → SQLite', () => {
  let pgc: TestPostgres;
  let t: TestGatehouse;
  let app: TestServer;
  let ca: ReturnType<typeof makeCa>;
  let httpsPort: number;
  let settings: Settings;
  let pgUrl: string;
  let adminCookie: string;
  let totpSecret: string;
  let before: unknown;

  const from = (ip: string) => ({ localAddress: ip, headers: { accept: 'text/html' } });
  /** What users see: answers through nginx (HTTP and HTTPS), the API's users and links. */
  async function answers(): Promise<unknown> {
    // web.copy.test has a certificate: HTTP redirects, HTTPS serves it.
    const web = await t.get('web.copy.test');
    const tls = await https(httpsPort, 'web.copy.test', '/', ca.ca);
    const priv = await t.get('private.copy.test', '/', { headers: { accept: 'text/html' } });
    const shareIn = await t.get('share.copy.test', '/', from('127.0.0.11'));
    const shareOut = await t.get('share.copy.test', '/', from('127.0.0.12'));
    const users = (await t.api('GET', '/api/v1/users')).json as { users: { username: string }[] };
    const links = (await t.api('GET', '/api/v1/links')).json as { links: { id: string; note: string }[] };
    const me = await json(t.apiPort, 'GET', '/api/v1/services', undefined, { cookie: adminCookie });
    return {
      web: [web.status, web.headers.location],
      tls: [tls.status, (JSON.parse(tls.body) as { backend: string }).backend, tls.fingerprint],
      private: priv.status,
      share: [shareIn.status, shareOut.status],
      users: users.users.map((u) => u.username).sort(),
      links: links.links.map((l) => `${l.id} ${l.note}`),
      adminSession: me.status,
    };
  }

  async function signIn(at: number): Promise<number> {
    const r = await json(t.apiPort, 'POST', '/api/v1/session', {
      username: 'root',
      password: 'root password 1',
      totp: totpCode(totpSecret, at),
    });
    return r.status;
  }

  beforeAll(async () => {
    pgc = await startPostgres();
    app = await echoBackend('app');
    httpsPort = await freePort();
    t = await startTestGatehouse({ https_port: httpsPort });
    ca = makeCa(await testDir('gh-ca-'));
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
    await pgc?.stop().catch(() => undefined);
  });

  it('copies the stopped SQLite store into an empty PostgreSQL database, which serves the same', async () => {
    const up = [`127.0.0.1:${app.port}`];
    const put = (name: string, body: unknown) => t.api('PUT', `/api/v1/services/${name}?wait=true`, body);
    expect((await put('web', { hosts: ['web.copy.test'], routes: [{ upstreams: up }] })).status).toBe(201);
    expect(
      (
        await put('private', {
          hosts: ['private.copy.test'],
          routes: [{ upstreams: up }],
          access: { login: {} },
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await put('share', {
          hosts: ['share.copy.test'],
          routes: [{ upstreams: up }],
          access: { links: true },
        })
      ).status,
    ).toBe(201);
    const cert = await t.api('POST', '/api/v1/certificates?wait=true', ca.issue(['web.copy.test']));
    expect(cert.status, JSON.stringify(cert.json)).toBe(201);
    await t.api('POST', '/api/v1/users', { username: 'root', password: 'root password 1', role: 'admin' });
    await t.api('POST', '/api/v1/users', { username: 'eve', password: 'eve password 1' });
    totpSecret = ((await t.api('POST', '/api/v1/users/root/totp')).json as { secret: string }).secret;
    const ok = await json(t.apiPort, 'POST', '/api/v1/session', {
      username: 'root',
      password: 'root password 1',
      totp: totpCode(totpSecret, Date.now() - 30_000),
    });
    expect(ok.status, JSON.stringify(ok.json)).toBe(200);
    adminCookie = String((ok.headers['set-cookie'] as string[] | undefined)?.[0] ?? '').split(';')[0] ?? '';
    const link = await t.api('POST', '/api/v1/links', {
      service: 'share',
      ttl: '1h',
      max_ips: 1,
      note: 'moving',
    });
    expect(link.status).toBe(201);
    const u = new URL((link.json as { url: string }).url);
    expect((await t.get(u.hostname, u.pathname, from('127.0.0.11'))).status).toBe(303);
    before = await answers();
    expect(before).toMatchObject({ web: [301, expect.any(String)], tls: [200, 'app', expect.any(String)] });
    expect(before).toMatchObject({ share: [200, 403], adminSession: 200, users: ['eve', 'root'] });

    const db = join(t.dataDir, 'gatehouse.db');
    pgUrl = await pgc.createDatabase();
    // While Gatehouse runs on it: refused (later writes would be lost).
    const live = await cli(['db', 'copy', '--from', db, '--to', pgUrl]);
    expect(live.code).not.toBe(0);
    expect(live.err).toContain('stop it first');
    // Bad URLs name their flag.
    const badFrom = await cli(['db', 'copy', '--from', 'mysql://x/y', '--to', pgUrl]);
    expect(badFrom.code).not.toBe(0);
    expect(badFrom.err).toMatch(/^error: --from: unknown database kind mysql:/);
    const badTo = await cli(['db', 'copy', '--from', db, '--to', 'postgres://gh:s3cret@127.0.0.1:1/nope']);
    expect(badTo.code).not.toBe(0);
    const noTo = await cli(['db', 'copy', '--from', db]);
    expect(noTo.code).not.toBe(0);
    expect(noTo.err).toContain('--to');

    settings = t.gh.settings;
    await t.gh.close();
    const unreachable = await cli([
      'db',
      'copy',
      '--from',
      db,
      '--to',
      'postgres://gh:s3cret@127.0.0.1:1/nope',
    ]);
    expect(unreachable.code).not.toBe(0);
    expect(unreachable.err).toMatch(
      /^error: --to: cannot reach the database at postgres:\/\/gh@127\.0\.0\.1:1\/nope/,
    );
    expect(unreachable.err).not.toContain('s3cret');

    const copy = await cli(['db', 'copy', '--from', `sqlite:${db}`, '--to', pgUrl]);
    expect(copy.err + copy.out, copy.err).toContain('copied');
    expect(copy.code).toBe(0);
    expect(copy.err).toMatch(/^services: 3 rows$/m);
    expect(copy.err).toMatch(/^certificates: 1 row$/m);
    expect(copy.err).toMatch(/^users: 2 rows$/m);
    expect(copy.out).toMatch(/compiled config hash [0-9a-f]+ on both/);
    expect(copy.out).toContain('same data key');
    // Once there, a second copy is refused: the target is not empty.
    const again = await cli(['db', 'copy', '--from', db, '--to', pgUrl]);
    expect(again.code).not.toBe(0);
    expect(again.err).toContain('is not empty');

    t.gh = await startGatehouse({ ...settings, database_url: pgUrl }, createLogger('silent'));
    expect(await answers()).toEqual(before);
    // The sealed TOTP secret opens (same data key); a write lands (ids go on after the copied ones).
    expect(await signIn(Date.now())).toBe(200);
    expect((await put('late', { hosts: ['late.copy.test'], routes: [{ upstreams: up }] })).status).toBe(201);
    expect((await t.get('late.copy.test')).status).toBe(200);
    const audit = (await t.api('GET', '/api/v1/audit?limit=100')).json as { entries: { path: string }[] };
    const paths = audit.entries.map((e) => e.path);
    expect(paths).toContain('/api/v1/services/late');
    expect(paths).toContain('/api/v1/services/web');
  }, 120_000);

  it('copies it back into SQLite, which serves the same and what was written on PostgreSQL', async () => {
    await t.gh.close();
    const db = join(t.dataDir, 'gatehouse.db');
    // Into the old (non-empty) file: refused.
    const busy = await cli(['db', 'copy', '--from', pgUrl, '--to', db]);
    expect(busy.code).not.toBe(0);
    expect(busy.err).toMatch(/--to: .* is not empty/);
    for (const f of ['', '-wal', '-shm'])
      if (existsSync(`${db}${f}`)) renameSync(`${db}${f}`, `${db}.old${f}`);
    const back = await cli(['--json', 'db', 'copy', '--from', pgUrl, '--to', t.dataDir]);
    expect(back.code, back.err).toBe(0);
    const report = JSON.parse(back.out) as { to: string; tables: { table: string; rows: number }[] };
    expect(report.to).toBe(`sqlite:${db}`);
    expect(report.tables.find((x) => x.table === 'services')?.rows).toBe(4);
    t.gh = await startGatehouse({ ...settings, database_url: undefined }, createLogger('silent'));
    expect(await answers()).toEqual(before);
    expect((await t.get('late.copy.test')).status).toBe(200);
    expect(await signIn(Date.now() + 30_000)).toBe(200);
  }, 120_000);
});
