import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, type TestServer } from '../helpers/net.js';
import { testDir } from '../helpers/tmp.js';

const root = resolve(import.meta.dirname, '..', '..');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The built CLI (bin/gatehouse.js), over the running Gatehouse's local unix socket. */
function cli(dataDir: string, args: string[], input = ''): Promise<Run> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_')));
  return new Promise((done) => {
    const p = spawn(process.execPath, [join(root, 'bin', 'gatehouse.js'), '--data-dir', dataDir, ...args], {
      env,
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => done({ code, stdout, stderr }));
    p.stdin.end(input);
  });
}

describe('CLI over the local socket', () => {
  let t: TestGatehouse;
  let backend: TestServer;
  const run = (...args: string[]) => cli(t.dataDir, args);

  beforeAll(async () => {
    t = await startTestGatehouse();
    backend = await echoBackend('cli-socket');
  }, 60_000);

  afterAll(async () => {
    await backend?.close();
    await t?.close();
  });

  it('audits a change made through the socket, naming the CLI user', async () => {
    const add = await run(
      'service',
      'add',
      '--name',
      'audited',
      '--host',
      'audited.test',
      '--upstream',
      `127.0.0.1:${backend.port}`,
    );
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    const uid = process.getuid?.() ?? 0;
    const listed = await run('audit', '--json');
    expect(listed.code).toBe(0);
    const entries = (
      JSON.parse(listed.stdout) as {
        entries: { actor: string; via: string; ip: string; method: string; path: string; status: number }[];
      }
    ).entries;
    const entry = entries.find((e) => e.path === '/api/v1/services/audited');
    expect(entry).toMatchObject({
      actor: `cli:uid${uid}`,
      via: 'socket',
      ip: 'local',
      method: 'PUT',
      status: 201,
    });
    // The same through the HTTP API, and the human table names it too.
    const api = await t.api('GET', `/api/v1/audit?actor=cli:uid${uid}`);
    expect(api.status).toBe(200);
    expect(JSON.stringify(api.body)).toContain('/api/v1/services/audited');
    const human = await run('audit');
    expect(human.stdout).toMatch(
      new RegExp(`cli:uid${uid} +socket +local +PUT /api/v1/services/audited +201`),
    );
  });
});

describe('CLI messages', () => {
  let t: TestGatehouse;
  let missing: string;
  const run = (args: string[], input = '') => cli(t.dataDir, args, input);

  beforeAll(async () => {
    missing = join(await testDir('gh-missing-'), 'nope.yaml');
    // The file source watches a file that is not there (yet).
    t = await startTestGatehouse({ file: missing });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('says "no such file: PATH" for a missing file, in words or as JSON', async () => {
    const r = await run(['apply', '-f', missing]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toBe(`error: no such file: ${missing}`);
    const add = await run(['service', 'add', '-f', missing]);
    expect(add.stderr.trim()).toBe(`error: no such file: ${missing}`);

    const j = await run(['--json', 'apply', '-f', missing]);
    expect(j.code).not.toBe(0);
    expect(j.stdout).toBe('');
    expect(JSON.parse(j.stderr)).toEqual({
      error: {
        code: 'no_such_file',
        message: `no such file: ${missing}`,
        issues: [{ field: 'file', message: `no such file: ${missing}` }],
      },
    });
    // The file source reports the same words.
    const status = await t.api('GET', '/api/v1/status');
    const file = (status.json.sources as { file?: { lastError?: { message: string } } }).file;
    expect(file?.lastError?.message).toBe(`no such file: ${missing}`);
  });

  it('suggests the field an unknown key was meant to be; --json answers errors in JSON', async () => {
    const spec = JSON.stringify({
      name: 'typo',
      hosts: ['typo.test'],
      routes: [{ upstream: ['127.0.0.1:9'] }],
    });
    const r = await run(['service', 'add', '-f', '-'], spec);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('routes.0.upstream: unknown field "upstream" (did you mean "upstreams"?)');

    const j = await run(['service', 'add', '-f', '-', '--json'], spec);
    expect(j.code).not.toBe(0);
    const body = JSON.parse(j.stderr) as {
      error: { code: string; issues: { field: string; message: string }[] };
    };
    expect(body.error.code).toBe('invalid');
    expect(body.error.issues).toContainEqual({
      field: 'routes.0.upstream',
      message: 'unknown field "upstream" (did you mean "upstreams"?)',
    });
    // A usage error too.
    const usage = await run(['--json', 'service', 'frobnicate']);
    expect(usage.code).not.toBe(0);
    expect((JSON.parse(usage.stderr) as { error: { code: string; message: string } }).error).toMatchObject({
      code: 'usage',
      message: expect.stringContaining('frobnicate'),
    });
    // And the API itself, for any client.
    const api = await t.api('PUT', '/api/v1/services/typo', JSON.parse(spec));
    expect(api.status).toBe(400);
    expect(api.json.error?.message).toContain('did you mean "upstreams"?');
  });

  it('takes login: true as a login-only service', async () => {
    const spec = JSON.stringify({
      name: 'members',
      hosts: ['members.test'],
      routes: [{ upstreams: ['127.0.0.1:9'] }],
      access: { login: true },
    });
    const r = await run(['service', 'add', '-f', '-'], spec);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const got = await t.api('GET', '/api/v1/services/members');
    expect(got.json.service).toMatchObject({ access: { login: { groups: [] } } });
    expect((await t.get('members.test')).status).not.toBe(200);
  });
});

describe('service add over an existing service, and service ls', () => {
  /** `service add` of the guarded service's name from flags alone (no access rules: public). */
  const guardedFromFlags = () => [
    'service',
    'add',
    '--name',
    'guarded',
    '--host',
    'guarded.test',
    '--upstream',
    `127.0.0.1:${backend.port}`,
  ];
  let t: TestGatehouse;
  let backend: TestServer;
  const run = (args: string[], input = '') => cli(t.dataDir, args, input);
  const guarded = (port: number) =>
    JSON.stringify({
      name: 'guarded',
      hosts: ['guarded.test'],
      routes: [{ path: '/', upstreams: [`127.0.0.1:${port}`] }],
      access: { login: { groups: ['staff'] } },
    });

  beforeAll(async () => {
    t = await startTestGatehouse();
    backend = await echoBackend('guarded-app');
    // With a user who could sign in, a login-guarded route asks for it (401).
    const user = { username: 'bob', password: 'bob password 1', groups: [] };
    expect((await t.api('POST', '/api/v1/users', user)).status).toBe(201);
  }, 60_000);

  afterAll(async () => {
    await backend?.close();
    await t?.close();
  });

  it('refuses to replace an existing service without --replace, and shows what would change', async () => {
    const first = await run(['service', 'add', '-f', '-'], guarded(backend.port));
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect((await t.get('guarded.test')).status).toBe(401);

    // The same name from flags: no access rules, so it would make the service public.
    const flags = guardedFromFlags();
    const again = await run(flags);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('service guarded exists');
    expect(again.stderr).toContain('--replace');
    expect(again.stderr).toMatch(/^-\s+login:/m);
    // Nothing changed: still behind the login.
    expect((await t.get('guarded.test')).status).toBe(401);
    const kept = await t.api('GET', '/api/v1/services/guarded');
    expect(kept.json.service).toMatchObject({ access: { login: { groups: ['staff'] } } });

    const dry = await run([...flags, '--replace', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^-\s+login:/m);
    expect((await t.get('guarded.test')).status).toBe(401);

    const replaced = await run([...flags, '--replace']);
    expect(replaced.stderr).toBe('');
    expect(replaced.code).toBe(0);
    expect(replaced.stdout).toMatch(/^-\s+login:/m);
    expect(replaced.stdout).toContain('service guarded replaced as version');
    const now = await t.get('guarded.test');
    expect(now.status).toBe(200);
    expect(now.body).toContain('guarded-app');
  });

  it('a second add of the same definition with --replace changes nothing', async () => {
    const flags = guardedFromFlags();
    const before = (await t.api('GET', '/api/v1/services')).json.version;
    const same = await run([...flags, '--replace']);
    expect(same.code).toBe(0);
    expect(same.stdout).toContain('nothing to change');
    expect((await t.api('GET', '/api/v1/services')).json.version).toBe(before);
  });

  it('lists access, upstreams, HTTPS and state for each service', async () => {
    const spec = (name: string, port: number, access: unknown, health = true) =>
      JSON.stringify({
        name,
        hosts: [`${name}.test`],
        tls: 'none',
        routes: [
          {
            path: '/',
            upstreams: [`127.0.0.1:${port}`],
            ...(health ? { health: { path: '/', interval: '1s', timeout: '1s' } } : {}),
          },
        ],
        ...(access ? { access } : {}),
      });
    expect(
      (await run(['service', 'add', '-f', '-'], spec('open', backend.port, { public: true }))).code,
    ).toBe(0);
    // Port 1 on loopback: nothing listens, every check fails.
    expect((await run(['service', 'add', '-f', '-'], spec('gone', 1, { login: {} }))).code).toBe(0);
    const members = { login: { groups: ['staff', 'ops'] }, ip: ['10.0.0.0/8'] };
    expect((await run(['service', 'add', '-f', '-'], spec('nochk', backend.port, members, false))).code).toBe(
      0,
    );

    let out = '';
    const row = (name: string) => out.split('\n').find((l) => l.startsWith(`${name} `)) ?? '';
    for (let i = 0; i < 100; i++) {
      const ls = await run(['service', 'ls']);
      expect(ls.code).toBe(0);
      out = ls.stdout;
      if (/\bup\b/.test(row('open')) && /\bdown\b/.test(row('gone'))) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(out.split('\n')[0]).toMatch(/^NAME +HOSTS +ACCESS +UPSTREAMS +HTTPS +STATE/);
    // Public in capitals; guarded ones say what guards them.
    expect(row('open')).toMatch(new RegExp(`open\\.test +PUBLIC +127\\.0\\.0\\.1:${backend.port} +off +up `));
    expect(row('gone')).toMatch(/gone\.test +sign-in +127\.0\.0\.1:1 +off +down \(1\/1 down\) /);
    expect(row('nochk')).toMatch(
      /nochk\.test +sign-in \(staff, ops\) or addresses \(1\) +127\.0\.0\.1:\d+ +off +unchecked /,
    );
    expect(row('guarded')).toMatch(/guarded\.test +PUBLIC /);

    const json = await run(['--json', 'service', 'ls']);
    const list = JSON.parse(json.stdout) as { services: { service: { name: string }; summary: unknown }[] };
    expect(list.services.find((s) => s.service.name === 'gone')?.summary).toMatchObject({
      access: 'sign-in',
      public: false,
      upstreams: ['127.0.0.1:1'],
      https: 'off',
      state: 'down',
    });
  });
});
