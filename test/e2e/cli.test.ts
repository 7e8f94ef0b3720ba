import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm, utimes, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive } from '../helpers/gatehouse.js';
import { echoBackend, freePort, http, until, type TestServer } from '../helpers/net.js';
import { testDir } from '../helpers/tmp.js';

const root = resolve(import.meta.dirname, '..', '..');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], input?: string): Promise<Run> {
  return new Promise((done) => {
    const p = spawn(process.execPath, [join(root, 'bin', 'gatehouse.js'), ...args], { env: cleanEnv() });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => done({ code, stdout, stderr }));
    p.stdin.end(input ?? '');
  });
}

/** The environment without any GATEHOUSE_* a developer may have set. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_')));
}

/** The README's quick start, for real: install check, start, use the CLI, stop. */
describe('quick start and CLI', () => {
  let dataDir: string;
  let up: ChildProcess;
  let upOut = '';
  let httpPort: number;
  let backend: TestServer;
  const cli = (...args: string[]) => run(['--data-dir', dataDir, ...args]);

  beforeAll(async () => {
    dataDir = await testDir('gh-cli-');
    backend = await echoBackend('cli');
    httpPort = await freePort();
    const args = [
      join(root, 'scripts', 'quickstart.sh'),
      '--data-dir',
      dataDir,
      '--http-port',
      String(httpPort),
      '--https-port',
      '0',
      '--api-listen',
      `127.0.0.1:${await freePort()}`,
      '--register-listen',
      `127.0.0.1:${await freePort()}`,
      '--log-level',
      'warn',
    ];
    up = spawn('bash', args, { env: { ...cleanEnv(), GATEHOUSE_BASE_DOMAIN: 'cli.test' } });
    up.stdout?.on('data', (d: Buffer) => (upOut += d.toString()));
    up.stderr?.on('data', (d: Buffer) => (upOut += d.toString()));
    await until(() => (upOut.includes('Gatehouse is up') ? true : undefined), 120_000, 100);
  }, 180_000);

  afterAll(async () => {
    if (up && up.exitCode === null) {
      up.kill('SIGTERM');
      await new Promise((r) => up.once('exit', r));
    }
    await backend?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('prints the generated tokens once at first start', () => {
    expect(upOut).toMatch(/admin token: +\S{20,}/);
    expect(upOut).toMatch(/register token: +\S{20,}/);
  });

  it('keeps the quick start quiet: progress lines, not npm or vite transcripts', async () => {
    expect(upOut).not.toMatch(/^> gatehouse@|vite v\d|modules transformed|^added \d+ packages/m);
    // Sources whose times changed but whose content did not (a checkout, `git switch`): nothing
    // is rebuilt and nothing is printed.
    const now = new Date();
    await utimes(join(root, 'src', 'cli', 'main.ts'), now, now);
    const again = await new Promise<Run>((done) => {
      const p = spawn('bash', [join(root, 'scripts', 'install-deps.sh')], { cwd: root, env: cleanEnv() });
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (out += d.toString()));
      p.on('close', (code) => done({ code, stdout: out, stderr: '' }));
    });
    expect(again.code, again.stdout).toBe(0);
    expect(again.stdout).toBe('');
  });

  it('tells the first apply, which started nginx, from a reload', async () => {
    // The first test to run after start: the only apply so far started nginx.
    const first = await cli('status');
    expect(first.stdout).toMatch(/last reload: +none since start/);
    expect(first.stdout).toMatch(
      /last apply: +\d+ ms \(new files: nginx -t \d+ ms, live \d+ ms later; nginx started\)/,
    );
  });

  it('adds a service from flags and from a YAML file, lists, shows and removes it', async () => {
    const add = await cli(
      'service',
      'add',
      '--name',
      'flags',
      '--host',
      'flags.test',
      '--upstream',
      `127.0.0.1:${backend.port}`,
    );
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    expect(add.stdout).toContain('live on the proxy');
    expect((await http(httpPort, 'flags.test')).status).toBe(200);

    const file = join(dataDir, 'svc.yaml');
    await writeFile(
      file,
      `name: yaml\nhosts: [yaml.test]\nroutes:\n  - path: /\n    upstreams: ["127.0.0.1:${backend.port}"]\n`,
    );
    expect((await cli('service', 'add', '-f', file)).code).toBe(0);
    expect((await http(httpPort, 'yaml.test')).status).toBe(200);

    const ls = await cli('service', 'ls');
    expect(ls.stdout).toMatch(/^NAME +HOSTS/);
    // No access rules: public, told apart at a glance; no health check: state unknown.
    expect(ls.stdout).toMatch(/flags +flags\.test +PUBLIC +127\.0\.0\.1:\d+ +off +unchecked +api/);
    const lsJson = JSON.parse((await cli('--json', 'service', 'ls')).stdout) as { services: unknown[] };
    expect(lsJson.services).toHaveLength(2);
    expect((await cli('service', 'show', 'yaml')).stdout).toContain('yaml.test');

    expect((await cli('service', 'rm', 'yaml')).code).toBe(0);
    expect((await http(httpPort, 'yaml.test')).status).toBe(404);
  });

  it('answers bad input with a message naming the field and a non-zero exit', async () => {
    const bad = await cli(
      'service',
      'add',
      '--name',
      'bad',
      '--host',
      'bad..test',
      '--upstream',
      '10.0.0.1:80',
    );
    expect(bad.code).not.toBe(0);
    // Told in the flags given, not in the fields of a body the user never wrote.
    expect(bad.stderr).toMatch(/^error: --host bad\.\.test: not a valid host name/);
    const flagFaults: [string[], RegExp][] = [
      [['--name', 'x'], /^error: --upstream: at least one upstream \(and 1 more\)\n {2}--host: /],
      [
        ['--name', 'X', '--host', 'x.test', '--upstream', '10.0.0.1:80'],
        /^error: --name: use 1-63 lowercase/,
      ],
      [
        ['--name', 'x', '--host', 'x.test', '--upstream', 'localhost:80'],
        /^error: --upstream localhost:80: /,
      ],
      [
        ['--name', 'x', '--tcp-port', 'abc', '--upstream', '10.0.0.1:80'],
        /^error: --tcp-port: expected a port/,
      ],
      [['--name', 'x', '--host', 'x.test', '--upstream', '10.0.0.1:80', '--path', 'api'], /^error: --path: /],
    ];
    for (const [flags, want] of flagFaults) {
      const r = await cli('service', 'add', ...flags);
      expect(r.code, flags.join(' ')).toBe(2);
      expect(r.stderr, flags.join(' ')).toMatch(want);
    }
    const noName = await cli('service', 'add', '-f', '-');
    expect(noName.code).not.toBe(0);
    expect(noName.stderr).toContain('name');
    const notVersion = await cli('snapshot', 'diff', '1', 'latest');
    expect(notVersion.code).toBe(2);
    expect(notVersion.stderr).toMatch(/^error: <to>: expected a version number/);
    const missing = await cli('service', 'show', 'nope');
    expect(missing.stderr).toContain('service nope not found');
    const last = await cli('service', 'rm', 'flags');
    expect(last.code).not.toBe(0);
    expect(last.stderr).toContain('force');
  });

  it('lists, diffs and rolls back snapshots; shows status', async () => {
    const ls = await cli('snapshot', 'ls');
    expect(ls.stdout.split('\n')[0]).toMatch(/^VERSION +WHEN +SOURCE/);
    const diff = await cli('snapshot', 'diff', '2');
    expect(diff.stdout).toContain('yaml.test');
    const rb = await cli('snapshot', 'rollback', '2');
    expect(rb.code, rb.stderr).toBe(0);
    expect((await http(httpPort, 'yaml.test')).status).toBe(200);
    const status = await cli('status');
    expect(status.stdout).toMatch(/applied version: +\d+ \(in sync\)/);
    expect(status.stdout).toMatch(/nginx running \(pid \d+\)/);
    // Both services are fast-lane hosts: the rollback reached nginx's memory, with no reload.
    expect(status.stdout).toMatch(/fast lane: +version [0-9a-f]{12} \(memory and file agree\)/);
    expect(status.stdout).toMatch(/cert table: +version [0-9a-f]{12} \(memory and file agree\)/);
    expect(status.stdout).toMatch(/last reload: +none since start/);
    expect(status.stdout).toMatch(/last apply: +\d+ ms \(in nginx's memory, no reload\)/);
    const json = JSON.parse((await cli('--json', 'status')).stdout) as { in_sync: boolean };
    expect(json.in_sync).toBe(true);

    // Two paths make a server block: new files, and a reload this time.
    const file = join(dataDir, 'two-paths.yaml');
    const up = `127.0.0.1:${backend.port}`;
    await writeFile(
      file,
      `name: two\nhosts: [two.test]\nroutes:\n  - { path: /, upstreams: ["${up}"] }\n  - { path: /api/, upstreams: ["${up}"] }\n`,
    );
    expect((await cli('service', 'add', '-f', file)).code).toBe(0);
    const reloaded = await cli('status');
    expect(reloaded.stdout).toMatch(/last reload: +\S+ ago \(a new config\)/);
    expect(reloaded.stdout).toMatch(
      /last apply: +\d+ ms \(new files: nginx -t \d+ ms, live \d+ ms later; nginx reloaded\)/,
    );
    expect((await cli('service', 'rm', 'two')).code).toBe(0);
  });

  it('runs doctor', async () => {
    const d = await cli('doctor');
    expect(d.stdout).toMatch(/ok +nginx: nginx version/);
    expect(d.stdout).toMatch(/ok +database: ok/);
    expect(d.stdout).toContain('module ngx_stream_module.so');
    // The fast lane runs on the Lua module (and the NDK it needs).
    expect(d.stdout).toMatch(/ok +module ngx_http_lua_module\.so/);
    expect(d.stdout).toMatch(/ok +module ndk_http_module\.so/);
  });

  it('manages users, groups and sessions', async () => {
    expect((await cli('group', 'add', 'family', '--description', 'the family')).code).toBe(0);
    const gen = await cli('user', 'add', 'alice', '--group', 'family', '--email', 'alice@example.test');
    expect(gen.code, gen.stderr).toBe(0);
    expect(gen.stdout).toMatch(/password \(shown once\): \S{12,}/);
    const piped = await run(
      ['--data-dir', dataDir, 'user', 'add', 'bob', '--password-stdin'],
      'bob secret pw\n',
    );
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout).not.toContain('shown once');
    const ls = await cli('user', 'ls');
    expect(ls.stdout).toMatch(/^USERNAME +ROLE +GROUPS/);
    expect(ls.stdout).toMatch(/alice +user +family +alice@example\.test +off +active/);
    expect((await cli('user', 'set', 'bob', '--disable')).code).toBe(0);
    expect((await cli('user', 'ls')).stdout).toMatch(/bob +user +- +- +off +disabled/);
    expect((await cli('group', 'ls')).stdout).toMatch(/family +alice +the family/);
    expect((await cli('session', 'ls')).code).toBe(0);
    const bad = await cli('user', 'add', 'Not Valid!');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/^error: username: /);
    const short = await cli('user', 'passwd', 'alice', '--password', 'short');
    expect(short.code).not.toBe(0);
    expect(short.stderr).toMatch(/^error: password: at least 8/);
    const noGroup = await cli('user', 'set', 'alice', '--group', 'nope');
    expect(noGroup.stderr).toContain('groups.0: no group nope');
    const hashed = await run(['hash-password'], 'ci password 1\n');
    expect(hashed.stdout).toMatch(/^\$argon2id\$v=19\$/);
    expect((await run(['hash-password'], 'short\n')).stderr).toMatch(/^error: password: at least 8/);
    expect((await cli('user', 'rm', 'bob')).code).toBe(0);
    expect((await cli('user', 'rm', 'bob')).stderr).toContain('user bob not found');
  });

  it('makes, lists and revokes API keys; the key works through nginx until revoked', async () => {
    const svc = join(dataDir, 'keys.yaml');
    await writeFile(
      svc,
      `name: keyed\nhosts: [keyed.test]\nroutes:\n  - upstreams: ["127.0.0.1:${backend.port}"]\naccess: { api_keys: true }\n`,
    );
    expect((await cli('service', 'add', '-f', svc)).code).toBe(0);
    const made = await cli('api-key', 'create', 'deploy', '--service', 'keyed', '--ttl', '30d');
    expect(made.code, made.stderr).toBe(0);
    const key = /^(ghk_[0-9a-f]{16}_\S{43})$/m.exec(made.stdout)?.[1] as string;
    expect(key).toBeDefined();
    const auth = { headers: { authorization: `Bearer ${key}` } };
    expect((await http(httpPort, 'keyed.test', '/', auth)).status).toBe(200);
    const ls = await cli('api-key', 'ls');
    expect(ls.stdout).toMatch(/^ID +NAME +SERVICES +USER +STATE/);
    expect(ls.stdout).toMatch(/deploy +keyed +- +active/);
    expect(ls.stdout).not.toContain(key.slice(21));
    const id = key.slice(4, 20);
    expect((await cli('api-key', 'revoke', id)).code).toBe(0);
    expect((await http(httpPort, 'keyed.test', '/', auth)).status).toBe(401);
    const bad = await cli('api-key', 'create', 'x', '--service', 'keyed', '--ttl', '2y');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/^error: ttl: a lifetime such as/);
    const none = await cli('api-key', 'create', 'x', '--service', 'nope');
    expect(none.stderr).toContain('services.0: no service nope');
  });

  it('stops nginx with it', async () => {
    const pid = Number(/running \(pid (\d+)\)/.exec((await cli('status')).stdout)?.[1]);
    expect(alive(pid)).toBe(true);
    up.kill('SIGTERM');
    await new Promise((r) => up.once('exit', r));
    expect(alive(pid)).toBe(false);
    const after = await cli('status');
    expect(after.code).not.toBe(0);
    expect(after.stderr).toContain('is `gatehouse up` running?');
  });
});

describe('gatehouse up with a bad setting', () => {
  it('stops with a message naming the setting', async () => {
    const r = await run(['up', '--http-port', '70000']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: setting --http-port: /);
    const env = await new Promise<Run>((done) => {
      const p = spawn(process.execPath, [join(root, 'bin', 'gatehouse.js'), 'up'], {
        env: { ...cleanEnv(), GATEHOUSE_REGISTER_ALLOW: 'not-a-cidr' },
      });
      let stderr = '';
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      p.on('close', (code) => done({ code, stdout: '', stderr }));
    });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('GATEHOUSE_REGISTER_ALLOW');
  });

  it('says in one line which flag is wrong and what it accepts, and starts nothing', async () => {
    const parent = await testDir('gh-badflag-');
    const dir = join(parent, 'data');
    const cases: [string[], string][] = [
      [
        ['--api-listen', 'nonsense'],
        'error: setting --api-listen: expected HOST:PORT, :PORT, PORT (up to 65535) or unix:/path (got "nonsense")',
      ],
      [['--http-port', 'abc'], 'error: setting --http-port: expected a port from 1 to 65535'],
    ];
    for (const [flags, line] of cases) {
      const r = await run(['up', '--data-dir', dir, ...flags]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`${line}\n`);
      expect(r.stdout).toBe('');
      // Nothing started: not even the data dir was made.
      expect(existsSync(dir)).toBe(false);
    }
    await rm(parent, { recursive: true, force: true });
  });

  it('shows help, also through npx in the project', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('snapshot');
    const npx = await new Promise<Run>((done) => {
      const p = spawn('npx', ['gatehouse', '--help'], { cwd: root, env: cleanEnv() });
      let stdout = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      p.on('close', (code) => done({ code, stdout, stderr: '' }));
    });
    expect(npx.code).toBe(0);
    expect(npx.stdout).toContain('Usage: gatehouse');
  });
});
