import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { testDir } from './tmp.js';

/**
 * Hosts in network namespaces for tests and benchmarks of what crosses a network: an HA pair of
 * edges sharing a VIP through real keepalived, a client in a third namespace, and the control plane
 * in this process. Everything lives in a private range that exists only inside namespaces this
 * process creates (plus one veth into the root namespace, so edges reach the control plane and the
 * backend); every process started here is stopped by its PID, and the namespaces are deleted.
 */

export const run = promisify(execFile);

/** Milliseconds on the wall clock, sub-millisecond: comparable across processes on this machine. */
export const now = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The repository root, found from this file whether it runs from test/ or from the built dist/. */
export const REPO = (() => {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'bin', 'gatehouse.js'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no bin/gatehouse.js above ${import.meta.dirname}`);
    dir = up;
  }
  return dir;
})();

export function kill(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined || pid <= 1) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Children of `pid` (e.g. an nginx master's workers). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

export async function until<T>(
  what: string | (() => string),
  fn: () => T | undefined | Promise<T | undefined>,
  ms: number,
  step = 20,
) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) {
      throw new Error(`${typeof what === 'string' ? what : what()}: not within ${ms} ms`);
    }
    await sleep(step);
  }
}

/** What these tests need from the machine; a missing part fails the test with the fix. */
export function requirePrerequisites(): void {
  if (process.getuid?.() !== 0) throw new Error('network namespaces need root');
  for (const [bin, pkg] of [
    ['ip', 'iproute2'],
    ['keepalived', 'keepalived'],
    ['nginx', 'nginx'],
  ]) {
    const r = spawnSync('sh', ['-c', `command -v ${bin}`]);
    if (r.status !== 0)
      throw new Error(`${bin} is missing: apt-get install -y --no-install-recommends ${pkg}`);
  }
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `ip` arguments for a veth pair: `aIf` in namespace `aNs`, its peer `bIf` in `bNs` (a namespace's
 * name, or a PID for that process's namespace).
 */
export const vethArgs = (aNs: string, aIf: string, bIf: string, bNs: string): string[] => [
  ...['-n', aNs, 'link', 'add', aIf, 'type', 'veth'],
  ...['peer', 'name', bIf, 'netns', bNs],
];

/** The CLI as operators run it (the built dist/). */
export const GATEHOUSE_BIN = join(REPO, 'bin', 'gatehouse.js');

/** Runs `gatehouse ARGS`; resolves with its exit status and output. */
export function runCli(args: string[], timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [GATEHOUSE_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/**
 * Namespaces this process makes and the processes it starts in them: one place for starting a
 * command inside a host, reading its log, killing a host's processes and tearing everything down
 * (children by PID, then whatever is left in our namespaces, then the namespaces). The labs below
 * (and test/helpers/site-lab.ts) lay out their own links on top of it.
 */
export class NetnsLab {
  protected readonly children = new Set<ChildProcess>();
  protected made: string[] = [];

  protected constructor(
    readonly id: string,
    readonly dir: string,
  ) {}

  ns(host: string): string {
    return `${this.id}-${host}`;
  }

  protected async ipc(...args: string[]): Promise<void> {
    await run('ip', args, { timeout: 10_000 });
  }

  /** Makes a namespace (lo up), deleted by destroy(). */
  protected async addNamespace(ns: string): Promise<void> {
    await this.ipc('netns', 'add', ns);
    this.made.push(ns);
    await this.ipc('-n', ns, 'link', 'set', 'lo', 'up');
  }

  /** A command inside a host's namespace, to its end. */
  exec(host: string, cmd: string, args: string[]) {
    return run('ip', ['netns', 'exec', this.ns(host), cmd, ...args], { timeout: 10_000 });
  }

  /** Starts `cmd` inside a host's namespace; output goes to `log` (in the lab dir) or a pipe. */
  spawn(host: string, cmd: string, args: string[], log?: string): ChildProcess {
    const fd = log ? openSync(join(this.dir, log), 'a') : undefined;
    const child = spawn('ip', ['netns', 'exec', this.ns(host), cmd, ...args], {
      stdio: fd === undefined ? ['pipe', 'pipe', 'inherit'] : ['ignore', fd, fd],
    });
    if (fd !== undefined) closeSync(fd);
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** The last lines of a log in the lab dir, for a failure message. */
  tail(log: string, lines = 15): string {
    try {
      return readFileSync(join(this.dir, log), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  private static async pidsIn(ns: string): Promise<number[]> {
    return run('ip', ['netns', 'pids', ns]).then(
      (r) => r.stdout.split(/\s+/).filter(Boolean).map(Number),
      () => [],
    );
  }

  /**
   * A machine going down: every process in its namespace is killed at once (SIGKILL, as a power
   * cut). The namespace and its links stay.
   */
  async killHost(host: string): Promise<void> {
    for (const pid of await NetnsLab.pidsIn(this.ns(host))) kill(pid, 'SIGKILL');
    for (let i = 0; i < 50; i++) {
      if ((await NetnsLab.pidsIn(this.ns(host))).length === 0) return;
      await sleep(100);
    }
    throw new Error(`processes left in ${this.ns(host)} after SIGKILL`);
  }

  /**
   * Stops whatever runs in the lab: our children by PID (SIGTERM, so an edge stops its nginx; up to
   * `graceMs`), then every process still inside one of our namespaces, then the namespaces.
   */
  protected async stopAll(graceMs: number): Promise<void> {
    const exits = [...this.children].map((c) =>
      c.exitCode !== null || c.signalCode !== null
        ? Promise.resolve()
        : new Promise((r) => c.once('exit', r)),
    );
    for (const c of this.children) kill(c.pid, 'SIGTERM');
    await Promise.race([Promise.all(exits), sleep(graceMs)]);
    for (const ns of this.made) for (const pid of await NetnsLab.pidsIn(ns)) kill(pid, 'SIGKILL');
    for (const c of this.children) kill(c.pid, 'SIGKILL');
    for (const ns of this.made.reverse()) await this.ipc('netns', 'del', ns).catch(() => undefined);
    this.made = [];
  }
}

/**
 * Hosts on one bridge. Each host is a namespace with `eth0` on the bridge (itself in a namespace of
 * its own); the root namespace joins through one veth. Addresses: root .1, hosts .11 upwards, in a
 * /24 of 10.211.0.0/16 no route of this machine uses.
 */
export class Lab extends NetnsLab {
  readonly rootIf: string;
  private readonly ips = new Map<string, string>();

  private constructor(
    id: string,
    readonly net: string,
    dir: string,
  ) {
    super(id, dir);
    this.rootIf = `gh${id.replace(/[^0-9a-z]/g, '')}`.slice(0, 15);
  }

  get bridgeNs(): string {
    return `${this.id}-br`;
  }

  get rootIp(): string {
    return `${this.net}.1`;
  }

  /** An address of this lab's /24 (for a VIP, say). */
  addr(n: number): string {
    return `${this.net}.${n}`;
  }

  ip(host: string): string {
    const ip = this.ips.get(host);
    if (!ip) throw new Error(`no host ${host}`);
    return ip;
  }

  static async create(hosts: string[], tag = 'ha'): Promise<Lab> {
    const routes =
      (await run('ip', ['-4', 'route', 'show'])).stdout + (await run('ip', ['-4', 'addr', 'show'])).stdout;
    let third = (process.pid % 200) + 20;
    while (routes.includes(`10.211.${third}.`)) third = third === 250 ? 20 : third + 1;
    const lab = new Lab(`gh${tag}${process.pid}`, `10.211.${third}`, await testDir(`gh-${tag}-lab-`));
    try {
      await lab.build(hosts);
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  private async build(hosts: string[]): Promise<void> {
    const br = this.bridgeNs;
    for (const ns of [br, ...hosts.map((h) => this.ns(h))]) await this.addNamespace(ns);
    await this.ipc('-n', br, 'link', 'add', 'br0', 'type', 'bridge');
    await this.ipc('-n', br, 'link', 'set', 'br0', 'up');
    for (const [i, h] of hosts.entries()) {
      const ip = `${this.net}.${11 + i}`;
      this.ips.set(h, ip);
      await this.ipc(
        '-n',
        br,
        'link',
        'add',
        `p-${h}`,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        this.ns(h),
      );
      await this.ipc('-n', br, 'link', 'set', `p-${h}`, 'master', 'br0', 'up');
      await this.ipc('-n', this.ns(h), 'addr', 'add', `${ip}/24`, 'dev', 'eth0');
      await this.ipc('-n', this.ns(h), 'link', 'set', 'eth0', 'up');
    }
    // The root namespace's end: this process's namespace, named by its PID.
    await this.ipc(
      '-n',
      br,
      'link',
      'add',
      'p-root',
      'type',
      'veth',
      'peer',
      'name',
      this.rootIf,
      'netns',
      String(process.pid),
    );
    await this.ipc('-n', br, 'link', 'set', 'p-root', 'master', 'br0', 'up');
    await this.ipc('addr', 'add', `${this.rootIp}/24`, 'dev', this.rootIf);
    await this.ipc('link', 'set', this.rootIf, 'up');
  }

  /** Pulls a host's cable (its port on the bridge), at once. */
  linkDown(host: string): void {
    execFileSync('ip', ['-n', this.bridgeNs, 'link', 'set', `p-${host}`, 'down'], { timeout: 5000 });
  }

  /**
   * Isolated bridge ports cannot reach each other, only the others: isolating both edges splits
   * them while clients still reach each one.
   */
  async isolate(host: string, on: boolean): Promise<void> {
    await this.ipc(
      '-n',
      this.bridgeNs,
      'link',
      'set',
      'dev',
      `p-${host}`,
      'type',
      'bridge_slave',
      'isolated',
      on ? 'on' : 'off',
    );
  }

  async linkUp(host: string): Promise<void> {
    await this.ipc('-n', this.bridgeNs, 'link', 'set', `p-${host}`, 'up');
  }

  /** IPv4 addresses on a host's eth0. */
  addresses(host: string): string[] {
    const out = execFileSync('ip', ['-n', this.ns(host), '-4', '-o', 'addr', 'show', 'dev', 'eth0'], {
      encoding: 'utf8',
      timeout: 5000,
    });
    return [...out.matchAll(/inet ([0-9.]+)\//g)].map((m) => m[1] ?? '');
  }

  async delAddress(host: string, cidr: string): Promise<void> {
    await this.ipc('-n', this.ns(host), 'addr', 'del', cidr, 'dev', 'eth0').catch(() => undefined);
  }

  /** Stops whatever runs in the lab (NetnsLab.stopAll), then removes the root veth and the dir. */
  async destroy(): Promise<void> {
    await this.stopAll(3000);
    // Gone with its peer in the bridge namespace, which the kernel frees a moment later.
    await until(
      `${this.rootIf} removed`,
      async () =>
        !(await run('ip', ['link', 'show', this.rootIf]).then(
          () => true,
          () => false,
        )) || undefined,
      3000,
    ).catch(() => this.ipc('link', 'del', this.rootIf).catch(() => undefined));
    await rm(this.dir, { recursive: true, force: true });
  }
}
