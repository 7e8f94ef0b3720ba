import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse } from '../../src/gatehouse.js';
import { totpCode } from '../../src/gate/totp.js';
import { SessionCodec } from '../../src/model/session.js';
import { createLogger } from '../../src/observe/log.js';
import { openDatabase } from '../../src/store/open.js';
import { Sealer } from '../../src/store/secrets.js';
import { Browser } from '../helpers/browser.js';
import { startEdgeAgent, type EdgeProcess } from '../helpers/edge.js';
import { ADMIN_TOKEN, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, freePort, http, json, until, type TestServer } from '../helpers/net.js';
import { testDir } from '../helpers/tmp.js';

const root = resolve(import.meta.dirname, '..', '..');
const PORTAL = 'auth.home.test';
/** The first field an error answer names. */
const fieldOf = (r: { json: { error?: unknown } }) =>
  (r.json.error as { issues?: { field: string }[] } | undefined)?.issues?.[0]?.field;
const stepOf = (body: string) => /name="step" value="([^"]+)"/.exec(body)?.[1] ?? '';

/** `gatehouse …` as an operator runs it (built dist), without the test's GATEHOUSE_ variables. */
function cli(
  args: string[],
  extra: Record<string, string> = {},
): Promise<{ code: number | null; out: string }> {
  return new Promise((done) => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_')));
    const p = spawn(process.execPath, [join(root, 'bin', 'gatehouse.js'), ...args], {
      env: { ...env, ...extra },
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', (code) => done({ code, out }));
  });
}

interface Rotated {
  kind: string;
  token?: string;
  node?: string;
  previous_valid_until?: string;
  resealed?: number;
  key_source?: string;
  message: string;
}

/**
 * `gatehouse rotate` against a real running Gatehouse (nginx, the registration listener, an edge
 * agent in its own process): each new secret is in force at once, the old one refused (tokens) or
 * still verifying what it signed (the session key), and secrets re-sealed under a new data key open
 * after a restart.
 */
describe('gatehouse rotate', () => {
  let t: TestGatehouse;
  let app: TestServer;
  let admin: string;
  let edge: EdgeProcess | undefined;
  let edgeDir: string;
  let edgePort: number;
  let nodeToken: string;
  /** alice's session, signed before the session key was rotated. */
  let before: Browser;
  let bobTotp: string;
  const api = (method: string, path: string, body?: unknown, token = admin) =>
    json(t.apiPort, method, path, body, { authorization: `Bearer ${token}` });
  const rotate = async (kind: string, body: unknown = {}) => {
    const r = await api('POST', `/api/v1/rotate/${kind}`, body);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    return r.json as unknown as Rotated;
  };
  const onEdge = async (host: string, cookie?: string) =>
    (
      await http(edgePort, host, '/', { headers: cookie ? { cookie: `gh_session=${cookie}` } : {} }).catch(
        () => undefined,
      )
    )?.status;
  const startEdge = (token: string) => {
    edge = startEdgeAgent({
      control: `http://127.0.0.1:${t.apiPort}`,
      token,
      dir: edgeDir,
      httpPort: edgePort,
    });
  };

  beforeAll(async () => {
    // No tokens in the settings: Gatehouse generates them and keeps their hashes in the data dir.
    t = await startTestGatehouse({
      base_domain: 'home.test',
      admin_token: undefined,
      register_token: undefined,
    });
    admin = t.gh.generated.admin as string;
    expect(admin).toBeTruthy();
    app = await echoBackend('app');
    expect(
      (await api('POST', '/api/v1/users', { username: 'alice', password: 'alice password 1' })).status,
    ).toBe(201);
    expect(
      (await api('POST', '/api/v1/users', { username: 'bob', password: 'bob password 12' })).status,
    ).toBe(201);
    const put = await api('PUT', '/api/v1/services/wiki?wait=true', {
      hosts: ['wiki.home.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
      access: { login: {} },
    });
    expect(put.status, JSON.stringify(put.json)).toBe(201);
    edgeDir = await testDir('gh-rotate-edge-');
    edgePort = await freePort();
  });
  afterAll(async () => {
    await edge?.stop();
    await t?.close();
    await app?.close();
  });

  it('admin-token: the new token works at once, the old one is refused at once', async () => {
    const old = admin;
    const r = await rotate('admin-token');
    expect(r.token).toBeTruthy();
    expect(r.token).not.toBe(old);
    admin = r.token as string;
    expect((await api('GET', '/api/v1/status', undefined, old)).status).toBe(401);
    expect((await api('GET', '/api/v1/status')).status).toBe(200);
    // Only its hash is kept, root-only.
    const file = join(t.dataDir, 'secrets', 'admin-token.sha256');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readFile(file, 'utf8')).trim()).toBe(createHash('sha256').update(admin).digest('hex'));
  });

  it('register-token through the CLI (local socket): printed once, the old one refused by the registration API', async () => {
    const old = t.gh.generated.register as string;
    const routes = (token: string) =>
      json(t.registerPort, 'GET', '/routes', undefined, { authorization: `Bearer ${token}` });
    expect((await routes(old)).status).toBe(200);
    const r = await cli(['--data-dir', t.dataDir, 'rotate', 'register-token']);
    expect(r.code, r.out).toBe(0);
    const token = /^token: (\S+)$/m.exec(r.out)?.[1] as string;
    expect(token).toBeTruthy();
    expect((await routes(old)).status).toBe(401);
    expect((await routes(token)).status).toBe(200);
  });

  it('node-token: the old token is refused; the agent started again with the new one serves', async () => {
    const n = await api('POST', '/api/v1/nodes', { name: 'vps', role: 'public' });
    expect(n.status).toBe(201);
    nodeToken = String(n.json.token);
    startEdge(nodeToken);
    await api('PUT', '/api/v1/services/one?wait=true', {
      hosts: ['one.edge.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
    });
    await until(async () => ((await onEdge('one.edge.test')) === 200 ? true : undefined), 20_000);

    const r = await rotate('node-token', { node: 'vps' });
    expect(r.node).toBe('vps');
    expect(r.token).not.toBe(nodeToken);
    const feed = (token: string) =>
      json(t.apiPort, 'GET', '/edge/v1/config?wait=0', undefined, { authorization: `Bearer ${token}` });
    expect((await feed(nodeToken)).status).toBe(401);
    expect((await feed(r.token as string)).status).toBe(200);

    // Re-enrolled with the new token: its transit key derives from the new token's hash, and it
    // opens the sealed secrets and serves what was written after the rotation.
    await edge?.stop();
    nodeToken = r.token as string;
    startEdge(nodeToken);
    await api('PUT', '/api/v1/services/two?wait=true', {
      hosts: ['two.edge.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
    });
    await until(async () => ((await onEdge('two.edge.test')) === 200 ? true : undefined), 20_000);
  });

  it('session-key: sessions made before still pass (here and on the edge); new ones are signed with the new key', async () => {
    before = new Browser(t.httpPort);
    await before.login('alice', 'alice password 1', PORTAL);
    const oldCookie = before.cookie as string;
    expect((await before.get('wiki.home.test')).status).toBe(200);
    await until(async () => ((await onEdge('wiki.home.test', oldCookie)) === 200 ? true : undefined), 20_000);
    const nginxBefore = t.gh.edge.getStatus().proxy.pid;

    const r = await rotate('session-key');
    const until_ = Date.parse(r.previous_valid_until as string);
    // The grace period is the longest a session lives (session_ttl, 168h by default).
    expect(until_).toBeGreaterThan(Date.now() + 167 * 3_600_000);
    // nginx reads the keys from its environment: a new master took over, serving at once.
    expect(t.gh.edge.getStatus().proxy.pid).not.toBe(nginxBefore);
    expect((await before.get('wiki.home.test')).status).toBe(200);

    const after = new Browser(t.httpPort);
    await after.login('alice', 'alice password 1', PORTAL);
    const newCookie = after.cookie as string;
    expect((await after.get('wiki.home.test')).status).toBe(200);
    // Signed with the new key: the gate's codec now is not the one that signed the old cookie.
    const current = t.gh.gate.sessions.codec;
    expect(current.verify(newCookie)).toBeTruthy();
    expect(new SessionCodec(t.gh.gate.sessionKey).verify(oldCookie)).toBeUndefined();
    // A forged token is refused still (no key signs it).
    const forged = new SessionCodec('not the key, nor the previous one').sign(
      current.verify(newCookie) as NonNullable<ReturnType<SessionCodec['verify']>>,
    );
    const f = await http(t.httpPort, 'wiki.home.test', '/', {
      headers: { cookie: `gh_session=${forged}`, accept: 'text/html' },
    });
    expect(f.status).toBe(302);
    // The edge: its agent restarts its nginx with both keys; both sessions pass there.
    await until(async () => ((await onEdge('wiki.home.test', newCookie)) === 200 ? true : undefined), 20_000);
    expect(await onEdge('wiki.home.test', oldCookie)).toBe(200);
    expect(await onEdge('wiki.home.test', forged)).not.toBe(200);
  });

  it('data-key: every sealed secret re-sealed in one go; a restart opens them all', async () => {
    const totp = await api('POST', '/api/v1/users/bob/totp');
    expect(totp.status).toBe(201);
    bobTotp = String(totp.json.secret);
    const p = await api('POST', '/api/v1/providers', {
      name: 'corp',
      issuer: 'https://id.example.com',
      client_id: 'gatehouse',
      client_secret: 'the corp client secret',
    });
    expect(p.status, JSON.stringify(p.json)).toBe(201);
    const keyFile = join(t.dataDir, 'data.key');
    const oldKey = await readFile(keyFile, 'utf8');

    const r = await rotate('data-key');
    expect(r.key_source).toBe('file');
    // The session key and its predecessor, bob's TOTP secret, the provider's client secret.
    expect(r.resealed).toBeGreaterThanOrEqual(4);
    expect(await readFile(keyFile, 'utf8')).not.toBe(oldKey);
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    expect(existsSync(`${keyFile}.next`)).toBe(false);
    // The running process seals and opens with the new key at once: sign-in still works.
    const b = new Browser(t.httpPort);
    await b.login('alice', 'alice password 1', PORTAL);
    expect((await b.get('wiki.home.test')).status).toBe(200);

    // A GATEHOUSE_SECRET only applies when the key comes from it.
    const odd = await api('POST', '/api/v1/rotate/data-key', { new_secret: 'a new secret of some length' });
    expect(odd.status).toBe(400);
    expect(fieldOf(odd)).toBe('new_secret');

    // Restarted (with the admin token now in the settings): every secret opens.
    const settings = { ...t.gh.settings, admin_token: ADMIN_TOKEN };
    await edge?.stop();
    await t.gh.close();
    t.gh = await startGatehouse(settings, createLogger('silent'));
    admin = ADMIN_TOKEN;
    // The session signed before the session-key rotation still passes: its key was re-sealed too.
    expect((await before.get('wiki.home.test')).status).toBe(200);
    // bob signs in with a code from the TOTP secret he enrolled before the rotation.
    const c = new Browser(t.httpPort);
    const pw = await c.post(PORTAL, '/login', { username: 'bob', password: 'bob password 12', rd: '' });
    expect(pw.status).toBe(200);
    const ok = await c.post(PORTAL, '/login/totp', { step: stepOf(pw.body), code: totpCode(bobTotp) });
    expect(ok.status).toBe(200);
    // The provider's client secret opens with the data key on disk.
    const db = await openDatabase(settings);
    try {
      const sealer = await Sealer.load(t.dataDir, undefined, db);
      const row = await db.selectFrom('providers').select('client_secret').executeTakeFirstOrThrow();
      expect(sealer.open(row.client_secret)).toBe('the corp client secret');
    } finally {
      await db.destroy();
    }
  });

  it('refuses bad input with a 4xx naming the field, and a token set in the settings with where to change it', async () => {
    const kind = await api('POST', '/api/v1/rotate/passwords');
    expect(kind.status).toBe(400);
    expect(fieldOf(kind)).toBe('params.kind');
    const none = await api('POST', '/api/v1/rotate/node-token', {});
    expect(none.status).toBe(400);
    expect(fieldOf(none)).toBe('node');
    const unknown = await api('POST', '/api/v1/rotate/node-token', { node: 'nope' });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error?.message).toContain('node nope');
    const stray = await api('POST', '/api/v1/rotate/session-key', { node: 'vps' });
    expect(stray.status).toBe(400);
    expect(fieldOf(stray)).toBe('node');
    const extra = await api('POST', '/api/v1/rotate/session-key', { nodes: 'vps' });
    expect(extra.status).toBe(400);
    expect(fieldOf(extra)).toBe('nodes');
    const configured = await api('POST', '/api/v1/rotate/admin-token');
    expect(configured.status).toBe(409);
    expect(configured.json.error?.message).toContain(
      'admin_token in the config file or GATEHOUSE_ADMIN_TOKEN',
    );
    // Still the same token.
    expect((await api('GET', '/api/v1/status')).status).toBe(200);
    const bad = await cli([
      '--data-dir',
      t.dataDir,
      'rotate',
      'data-key',
      '--new-secret-env',
      'NOT_SET_HERE',
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.out).toContain('new-secret-env: NOT_SET_HERE is not set');
    const kindCli = await cli(['--data-dir', t.dataDir, 'rotate', 'passwords']);
    expect(kindCli.code).not.toBe(0);
    expect(kindCli.out).toContain("unknown command 'passwords'");
  });

  it('puts every rotation in the audit log (never the secret)', async () => {
    const r = await api('GET', '/api/v1/audit?limit=200');
    const entries = r.json.entries as unknown as { path: string; status: number; actor: string }[];
    for (const kind of ['admin-token', 'register-token', 'node-token', 'session-key', 'data-key']) {
      const e = entries.find((x) => x.path === `/api/v1/rotate/${kind}` && x.status === 200);
      expect(e, kind).toBeTruthy();
    }
    expect(entries.find((x) => x.path === '/api/v1/rotate/register-token')?.actor).toMatch(/^cli/);
    expect(JSON.stringify(entries)).not.toContain(admin);
  });
});

describe('gatehouse rotate data-key with GATEHOUSE_SECRET', () => {
  const FIRST = 'the first GATEHOUSE_SECRET value';
  const NEXT = 'the next GATEHOUSE_SECRET value';
  let t: TestGatehouse;
  beforeAll(async () => {
    t = await startTestGatehouse({ secret: FIRST });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('needs --new-secret-env; then only the new secret opens the store, at once and after a restart', async () => {
    const p = await t.api('POST', '/api/v1/providers', {
      name: 'corp',
      issuer: 'https://id.example.com',
      client_id: 'gatehouse',
      client_secret: 'the corp client secret',
    });
    expect(p.status).toBe(201);
    const none = await cli(['--data-dir', t.dataDir, 'rotate', 'data-key']);
    expect(none.code).not.toBe(0);
    expect(none.out).toContain('--new-secret-env');
    const ok = await cli(
      ['--data-dir', t.dataDir, 'rotate', 'data-key', '--new-secret-env', 'NEW_GH_SECRET'],
      {
        NEW_GH_SECRET: NEXT,
      },
    );
    expect(ok.code, ok.out).toBe(0);
    expect(ok.out).toContain('set GATEHOUSE_SECRET');
    expect(ok.out).not.toContain(NEXT);
    expect(existsSync(join(t.dataDir, 'data.key'))).toBe(false);

    const settings = t.gh.settings;
    await t.gh.close();
    // Started with the old secret: refused, nothing touched.
    await expect(
      startGatehouse({ ...settings, secret: FIRST }, createLogger('silent')),
    ).rejects.toMatchObject({
      code: 'data_key_mismatch',
    });
    t.gh = await startGatehouse({ ...settings, secret: NEXT }, createLogger('silent'));
    const db = await openDatabase(settings);
    try {
      const sealer = await Sealer.load(t.dataDir, NEXT, db);
      const row = await db.selectFrom('providers').select('client_secret').executeTakeFirstOrThrow();
      expect(sealer.open(row.client_secret)).toBe('the corp client secret');
    } finally {
      await db.destroy();
    }
  });
});
