import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, readdir, readFile, rm, stat, truncate } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive } from '../helpers/gatehouse.js';
import { freePort, until } from '../helpers/net.js';
import { testDir } from '../helpers/tmp.js';

const root = resolve(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'gatehouse.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment without any GATEHOUSE_* a developer may have set. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_')));
}

function run(args: string[]): Promise<Run> {
  return new Promise((done) => {
    const p = spawn(process.execPath, [bin, ...args], { env: cleanEnv(), cwd: root });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** A `gatehouse up` of our own, its output kept apart (stdout) or as a terminal shows it (tty). */
class Up {
  stdout = '';
  stderr = '';
  readonly p: ChildProcess;
  constructor(args: string[], tty = false) {
    const cmd = [process.execPath, bin, 'up', ...args];
    // util-linux `script` gives it a terminal, as an operator's shell does.
    this.p = tty
      ? spawn('script', ['-qfec', cmd.map((a) => `'${a}'`).join(' '), '/dev/null'], {
          env: cleanEnv(),
          cwd: root,
        })
      : spawn(cmd[0] as string, cmd.slice(1), { env: cleanEnv(), cwd: root });
    this.p.stdout?.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.p.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
  }
  async ready(): Promise<void> {
    await until(() => (/Data dir: /.test(this.stdout) ? true : undefined), 60_000, 100);
  }
  async stop(): Promise<void> {
    if (this.p.exitCode !== null || this.p.signalCode !== null) return;
    const exited = new Promise((r) => this.p.once('exit', r));
    this.p.kill('SIGTERM');
    await exited;
  }
}

async function ports(): Promise<{ args: string[]; http: number; api: number }> {
  const [http, api, reg] = [await freePort(), await freePort(), await freePort()];
  const args = ['--http-port', String(http), '--https-port', '0', '--api-listen', `127.0.0.1:${api}`];
  return { args: [...args, '--register-listen', `127.0.0.1:${reg}`], http, api };
}

describe('first run: banner, logs, doctor', () => {
  let dataDir: string;
  let up: Up;
  let p: Awaited<ReturnType<typeof ports>>;
  const dirs: string[] = [];

  beforeAll(async () => {
    dataDir = await testDir('gh-first-');
    dirs.push(dataDir);
    p = await ports();
    up = new Up(['--data-dir', dataDir, ...p.args]);
    await up.ready();
  }, 90_000);
  afterAll(async () => {
    await up?.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('says where the web UI is, how to make the first admin, and which data dir other shells need', async () => {
    expect(up.stdout).toContain(`Web UI:    http://127.0.0.1:${p.api}/`);
    expect(up.stdout).toContain(`npx gatehouse --data-dir ${dataDir} user add admin --admin`);
    expect(up.stdout).toContain(`export GATEHOUSE_DATA_DIR=${dataDir}`);
    // How to stop it, with the pid a `kill` needs (this process's, not a shell's).
    expect(up.stdout).toContain(`Stop:      Ctrl-C here, or kill ${up.p.pid} (SIGTERM)`);
    // The banner is for people; the JSON log lines stay on stderr (not a terminal here).
    expect(up.stdout).not.toContain('{"level"');
    // (stderr is another pipe: its lines may arrive after the banner.)
    await until(
      async () => (/^\{"level":30,.*"msg":"Gatehouse is up"/m.test(up.stderr) ? true : undefined),
      10_000,
    );

    // The command it prints works as printed (from the checkout, as the quick start runs).
    const made = await new Promise<Run>((done) => {
      const c = spawn('npx', ['gatehouse', '--data-dir', dataDir, 'user', 'add', 'admin', '--admin'], {
        cwd: root,
        env: cleanEnv(),
      });
      let stdout = '';
      c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      c.on('close', (code) => done({ code, stdout, stderr: '' }));
      c.stdin.end();
    });
    expect(made.code).toBe(0);
    expect(made.stdout).toMatch(/password \(shown once\): \S{12,}/);
  });

  it('doctor checks the running instance: its own ports, not the defaults', async () => {
    const d = await run(['--data-dir', dataDir, 'doctor']);
    expect(d.stdout).toMatch(/ok +instance: Gatehouse is running on .* \(pid \d+\)/);
    expect(d.stdout).toContain(`ok   HTTP port: ${p.http} in use (by Gatehouse, pid`);
    expect(d.stdout).toContain(`ok   API listener: ${p.api} in use (by Gatehouse`);
    expect(d.stdout).not.toMatch(/HTTP port: 80 /);
    expect(d.stdout).toMatch(/ok +worker access/);
    expect(d.stdout).toMatch(/ok +permissions: state is readable by its owner only/);
    expect(d.stdout).toMatch(/ok +database: ok \(version 0, 0 services\)/);
    expect(d.code, d.stdout).toBe(0);
  });

  it('a second up on the ports the first holds says which setting names the taken port', async () => {
    const second = await testDir('gh-second-');
    dirs.push(second);
    const free = async () => String(await freePort());
    const cases: [string[], string][] = [
      [
        ['--http-port', await free(), '--api-listen', `127.0.0.1:${p.api}`],
        `--api-listen 127.0.0.1:${p.api}`,
      ],
      [
        ['--http-port', String(p.http), '--api-listen', `127.0.0.1:${await freePort()}`],
        `--http-port ${p.http}`,
      ],
    ];
    for (const [flags, named] of cases) {
      const r = await run([
        'up',
        '--data-dir',
        second,
        '--https-port',
        '0',
        '--register-listen',
        `127.0.0.1:${await freePort()}`,
        '--log-level',
        'silent',
        ...flags,
      ]);
      expect(r.code, r.stderr).toBe(2);
      const port = named.replace(/^.*[ :]/, '');
      expect(r.stderr).toBe(
        `error: port ${port} (${named}) is in use by another program (another Gatehouse? \`ss -ltnp 'sport = :${port}'\` names it): stop it or choose another port; Gatehouse did not start\n`,
      );
    }
  });

  it('doctor creates nothing: no data dir is reported, not made', async () => {
    const parent = await testDir('gh-none-');
    dirs.push(parent);
    const missing = join(parent, 'data');
    const d = await run(['--data-dir', missing, 'doctor', '--http-port', String(p.http)]);
    expect(d.stdout).toContain(`no data dir at ${missing}`);
    expect(d.stdout).toContain('not running');
    // A flag given to doctor is the port it looks at (here in use by the other instance).
    expect(d.stdout).toContain(`FAIL HTTP port: ${p.http} is in use by another program`);
    // testDir's parent is 0700: the workers could not reach a data dir there.
    expect(d.stdout).toContain(`FAIL worker access: nginx's workers (user nobody) cannot enter`);
    expect(d.code).toBe(1);
    expect(await readdir(parent)).toEqual([]);
  });

  it('after a stop, doctor reports a database left readable by others and an emptied registry', async () => {
    await run([
      '--data-dir',
      dataDir,
      'service',
      'add',
      '--name',
      'a',
      '--host',
      'a.test',
      '--upstream',
      '127.0.0.1:9',
    ]);
    await up.stop();
    const db = join(dataDir, 'gatehouse.db');
    await chmod(db, 0o644);
    const before = (await readdir(dataDir)).sort();
    const d = await run(['--data-dir', dataDir, 'doctor']);
    expect(d.stdout).toMatch(/ok +instance: Gatehouse is not running/);
    expect(d.stdout).toContain(`FAIL permissions: readable or writable by others: ${db} 0644 (at most 0600)`);
    expect(d.stdout).toMatch(/ok +database: ok \(version 1, 1 services\)/);
    expect(d.code).toBe(1);
    // Read without a trace: no -wal or -shm beside it, modes as they were.
    expect((await readdir(dataDir)).sort()).toEqual(before);
    expect((await stat(db)).mode & 0o777).toBe(0o644);

    await truncate(db, 0);
    const e = await run(['--data-dir', dataDir, 'doctor']);
    expect(e.stdout).toContain(`FAIL database: ${db} is empty (0 bytes), but this data dir held a registry`);
    // And `up` refuses, with the same words, before touching nginx.
    const refused = await run(['up', '--data-dir', dataDir, ...p.args]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`error: ${db} is empty (0 bytes), but this data dir held a registry`);
    expect(refused.stderr).toContain('Restore gatehouse.db (with data.key) from a backup');
  });

  it('stopped while still starting (nginx up, the banner not yet out): it finishes, then stops its nginx too', async () => {
    const dir = await testDir('gh-early-stop-');
    dirs.push(dir);
    const q = await ports();
    const early = new Up(['--data-dir', dir, ...q.args]);
    const pidFile = join(dir, 'nginx', 'run', 'nginx.pid');
    // As soon as nginx's master exists, before `up` says it is ready.
    const pid = await until(
      async () => Number((await readFile(pidFile, 'utf8').catch(() => '')).trim()) || undefined,
      60_000,
      5,
    );
    const exited = new Promise<number | null>((r) => early.p.once('exit', (code) => r(code)));
    early.p.kill('SIGTERM');
    expect(await exited, early.stderr).toBe(0);
    expect(alive(pid), `nginx master ${pid} outlived gatehouse`).toBe(false);
  });

  it('logs for people on a terminal: no JSON in what the operator sees', async () => {
    const dir = await testDir('gh-tty-');
    dirs.push(dir);
    const q = await ports();
    const tty = new Up(['--data-dir', dir, ...q.args], true);
    let nginxPid = 0;
    try {
      await tty.ready();
      nginxPid = Number(await readFile(join(dir, 'nginx', 'run', 'nginx.pid'), 'utf8'));
      expect(tty.stdout).toMatch(/^\d\d:\d\d:\d\d INFO {2}Gatehouse is up api=http:\/\/127\.0\.0\.1:\d+ /m);
      expect(tty.stdout).toMatch(/INFO {2}edge: config applied version=0 /);
      expect(tty.stdout).not.toContain('{"level"');
      expect(tty.stdout).toContain(`Web UI:    http://127.0.0.1:${q.api}/`);
    } finally {
      // Gatehouse itself (not the terminal around it) is told to stop, as Ctrl-C would.
      const info = JSON.parse(await readFile(join(dir, 'run', 'instance.json'), 'utf8')) as { pid: number };
      const exited = new Promise((r) => tty.p.once('exit', r));
      process.kill(info.pid, 'SIGTERM');
      await exited;
    }
    expect(nginxPid).toBeGreaterThan(0);
    expect(alive(nginxPid)).toBe(false);
  });
});
