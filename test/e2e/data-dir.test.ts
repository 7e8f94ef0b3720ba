import { chmod, readFile, readlink, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, type Gatehouse } from '../../src/gatehouse.js';
import pino from 'pino';
import { ADMIN_TOKEN, alive, loopbackSettings } from '../helpers/gatehouse.js';
import { Browser } from '../helpers/browser.js';
import { echoBackend, json, type TestServer } from '../helpers/net.js';
import { testDir } from '../helpers/tmp.js';

/**
 * The data dir where operators put it: below a directory nginx's workers cannot enter (a 0700
 * parent, as /root or `mktemp -d` are), with modes left too open, and with its database emptied.
 */
describe('data dir', () => {
  let app: TestServer;
  const started: Gatehouse[] = [];
  const dirs: string[] = [];

  /** Warnings logged by the Gatehouse instances started here. */
  const warnings: { file?: string; was?: string; now?: string; msg: string }[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line)) });

  async function start(dataDir: string) {
    const { settings, httpPort, apiPort } = await loopbackSettings(dataDir, {
      admin_token: ADMIN_TOKEN,
      base_domain: 'dd.test',
      nginx_workers: 1,
    });
    const gh = await startGatehouse(settings, log);
    started.push(gh);
    const api = (method: string, path: string, body?: unknown) =>
      json(apiPort, method, path, body, { authorization: `Bearer ${ADMIN_TOKEN}` });
    return { gh, httpPort, api };
  }
  async function stop(gh: Gatehouse) {
    const pid = gh.edge.getStatus().proxy.pid;
    await gh.close();
    started.splice(started.indexOf(gh), 1);
    expect(pid !== undefined && alive(pid)).toBe(false);
  }
  const modeOf = async (p: string) => ((await stat(p)).mode & 0o777).toString(8);

  beforeAll(async () => {
    app = await echoBackend('app');
  });
  afterAll(async () => {
    for (const gh of started) await gh.close();
    await app?.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  // Tests run as root (nginx's workers then run as nobody), as Gatehouse does in production.
  it('below a parent the workers cannot enter: refuses with what to do, then guards routes once it can', async () => {
    // mkdtemp makes it 0700, like /root or `mktemp -d`.
    const parent = await testDir('gh-closed-');
    dirs.push(parent);
    expect(await modeOf(parent)).toBe('700');
    const dataDir = join(parent, 'data');
    const refused = await start(dataDir).then(
      () => 'started',
      (err: Error) => err.message,
    );
    expect(refused).toContain(`cannot enter the data dir ${dataDir}`);
    expect(refused).toContain(`chmod o+x ${parent}`);
    expect(refused).toContain('403');
    // Nothing was started: no nginx config was generated.
    await expect(stat(join(dataDir, 'nginx'))).rejects.toThrow();

    await chmod(parent, 0o711);
    const { gh, httpPort, api } = await start(dataDir);
    await api('POST', '/api/v1/users', { username: 'ann', password: 'ann password 1' });
    const put = await api('PUT', '/api/v1/services/wiki?wait=true', {
      hosts: ['wiki.dd.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
      access: { login: {} },
    });
    expect(put.status).toBe(201);
    const b = new Browser(httpPort);
    const first = await b.get('wiki.dd.test', '/');
    expect(first.status).toBe(302);
    expect(new URL(first.headers.location as string).host).toBe('auth.dd.test');
    await b.login('ann', 'ann password 1', 'auth.dd.test');
    const page = await b.get('wiki.dd.test', '/');
    expect(page.status).toBe(200);
    expect(JSON.parse(page.body).headers['remote-user']).toBe('ann');
    await stop(gh);
  });

  it('creates missing parents the workers can enter (0711), and starts', async () => {
    const root = await testDir('gh-parents-');
    dirs.push(root);
    await chmod(root, 0o711);
    const dataDir = join(root, 'srv', 'gatehouse', 'data');
    const { gh, httpPort, api } = await start(dataDir);
    expect(await modeOf(join(root, 'srv'))).toBe('711');
    expect(await modeOf(join(root, 'srv', 'gatehouse'))).toBe('711');
    const put = await api('PUT', '/api/v1/services/app?wait=true', {
      hosts: ['app.dd.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
    });
    expect(put.status).toBe(201);
    expect((await new Browser(httpPort).get('app.dd.test', '/')).status).toBe(200);
    await stop(gh);
  });

  it('keeps state to its owner: modes after start, and a 0644 database narrowed at the next start', async () => {
    const dataDir = await testDir('gh-modes-');
    dirs.push(dataDir);
    const first = await start(dataDir);
    let gh = first.gh;
    await first.api('POST', '/api/v1/users', { username: 'ann', password: 'ann password 1' });
    const files: [string, string][] = [
      ['', '711'],
      ['gatehouse.db', '600'],
      ['data.key', '600'],
      ['secrets', '700'],
      ['secrets/register-token.sha256', '600'],
      ['run', '700'],
      ['run/api.sock', '600'],
      ['gate', '711'],
      ['gate/state', '711'],
      ['nginx', '711'],
      ['nginx/logs', '710'],
      ['nginx/run', '700'],
      ['nginx/gen', '700'],
      ['nginx/tmp', '711'],
    ];
    for (const [rel, mode] of files) expect([rel, await modeOf(join(dataDir, rel))]).toEqual([rel, mode]);
    // The WAL holds the latest writes: the same as the database.
    expect(await modeOf(join(dataDir, 'gatehouse.db-wal'))).toBe('600');
    await stop(gh);

    await chmod(join(dataDir, 'gatehouse.db'), 0o644);
    await chmod(join(dataDir, 'data.key'), 0o640);
    await chmod(join(dataDir, 'secrets'), 0o755);
    warnings.length = 0;
    ({ gh } = await start(dataDir));
    // Each one named in a warning.
    expect(warnings.filter((w) => w.msg === 'permissions too open: fixed')).toEqual([
      expect.objectContaining({ file: join(dataDir, 'data.key'), was: '0640', now: '0600' }),
      expect.objectContaining({ file: join(dataDir, 'gatehouse.db'), was: '0644', now: '0600' }),
      expect.objectContaining({ file: join(dataDir, 'secrets'), was: '0755', now: '0700' }),
    ]);
    expect(await modeOf(join(dataDir, 'gatehouse.db'))).toBe('600');
    expect(await modeOf(join(dataDir, 'data.key'))).toBe('600');
    expect(await modeOf(join(dataDir, 'secrets'))).toBe('700');
    // Still the same registry (the user made before).
    expect((await gh.gate.users.list()).map((u) => u.username)).toEqual(['ann']);
    await stop(gh);
  });

  it('refuses to start on an emptied database of a data dir that held a registry; nginx keeps its config', async () => {
    const dataDir = await testDir('gh-empty-');
    dirs.push(dataDir);
    // A brand-new data dir starts (and a registry at version 0 stays restartable).
    let { gh, api } = await start(dataDir);
    await stop(gh);
    ({ gh, api } = await start(dataDir));
    const put = await api('PUT', '/api/v1/services/keep?wait=true', {
      hosts: ['keep.dd.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
    });
    expect(put.status).toBe(201);
    await stop(gh);
    const current = await readlink(join(dataDir, 'nginx', 'current'));
    const conf = async () => readFile(join(dataDir, 'nginx', 'current', 'nginx.conf'), 'utf8');
    const before = await conf();

    const db = join(dataDir, 'gatehouse.db');
    await rm(`${db}-wal`, { force: true });
    await rm(`${db}-shm`, { force: true });
    await truncate(db, 0);
    const refused = await start(dataDir).then(
      () => 'started',
      (err: Error) => err.message,
    );
    expect(refused).toContain(`${db} is empty (0 bytes)`);
    expect(refused).toContain('Restore gatehouse.db');
    expect(refused).toContain(join(dataDir, 'registry.marker'));
    expect((await stat(db)).size).toBe(0);
    expect(await readlink(join(dataDir, 'nginx', 'current'))).toBe(current);
    expect(await conf()).toBe(before);

    await rm(db);
    const missing = await start(dataDir).then(
      () => 'started',
      (err: Error) => err.message,
    );
    expect(missing).toContain(`${db} is missing`);

    // Starting anew on purpose: the operator removes the marker.
    await rm(join(dataDir, 'registry.marker'));
    ({ gh } = await start(dataDir));
    expect(gh.registry.version).toBe(0);
    await stop(gh);
  });
});
