import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { chmod, mkdir, rm, symlink, copyFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { toRange } from '../../src/sources/docker/cidr.js';
import type { ContainerFacts } from '../../src/sources/docker/facts.js';
import { testDir } from './tmp.js';

/**
 * A real Docker daemon for tests and benchmarks, in a network namespace this process creates.
 * Containers sit on bridges inside that namespace; one veth joins it to the root namespace with
 * routes to the bridges' subnets, so nginx here reaches containers by their own IPs as it would on a
 * Docker host. The image is busybox-static imported from a tar (no registry is reachable). Everything
 * is stopped by PID and removed in close(): containers, dockerd and what it started in the namespace,
 * its mounts, the namespace and the veth.
 */

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const IMAGE = 'ghbox:1';

/** docker.io and busybox-static from Debian; installed when missing (root is needed anyway). */
export function ensureDockerPackages(): void {
  if (process.getuid?.() !== 0) throw new Error('dockerd in a network namespace needs root');
  const missing = ['docker.io', 'busybox-static', 'iproute2'].filter(
    (p) =>
      !/install ok installed/.test(
        spawnSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8' }).stdout,
      ),
  );
  if (missing.length === 0) return;
  // Keep the package's own docker service from starting: the tests run their own daemon.
  const policy = '/usr/sbin/policy-rc.d';
  const madePolicy = !existsSync(policy);
  if (madePolicy)
    spawnSync('sh', ['-c', `printf '#!/bin/sh\\nexit 101\\n' > ${policy} && chmod +x ${policy}`]);
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
      env,
      timeout: 300_000,
    });
    if (r.status !== 0) {
      spawnSync('apt-get', ['update', '-qq'], { env, timeout: 300_000 });
      r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
        env,
        timeout: 300_000,
      });
    }
    if (r.status !== 0)
      throw new Error(`could not install ${missing.join(' ')}: ${String(r.stderr).slice(-500)}`);
  } finally {
    if (madePolicy) spawnSync('rm', ['-f', policy]);
  }
}

/** Addresses of one daemon's networks: the veth /24, the default bridge and a compose-style network. */
function pickNet(): number {
  const used = spawnSync('sh', ['-c', 'ip -4 route show; ip -4 addr show'], { encoding: 'utf8' }).stdout;
  let n = (process.pid % 200) + 20;
  while (['212', '213', '214'].some((b) => used.includes(`10.${b}.${n}.`))) n = n === 250 ? 20 : n + 1;
  return n;
}

export interface RunOptions {
  labels?: Record<string, string>;
  /** A network name (default: the daemon's default bridge). */
  network?: string;
  /** The text the container's web server answers with (default: its name). */
  body?: string;
  /** The port busybox httpd listens on inside the container (default 80). */
  port?: number;
  /** Directories (besides /) that answer with the body too, e.g. ["api"] for /api/. */
  paths?: string[];
}

export class Dockerd {
  readonly ns: string;
  readonly rootIf: string;
  /** The veth /24, the default bridge's and the compose-style network's, as "10.x.n". */
  readonly net: { veth: string; bridge: string; app: string };
  private daemon: ChildProcess | undefined;
  private nsMade = false;

  private constructor(
    readonly dir: string,
    n: number,
    tag: string,
  ) {
    this.ns = `gh${tag}${process.pid}`;
    this.rootIf = `gh${tag}${process.pid}`.slice(0, 15);
    this.net = { veth: `10.212.${n}`, bridge: `10.213.${n}`, app: `10.214.${n}` };
  }

  get endpoint(): string {
    return `unix://${this.socket}`;
  }

  get socket(): string {
    return join(this.dir, 'docker.sock');
  }

  /** The root namespace's address on the veth (a source address that is not loopback). */
  get rootIp(): string {
    return `${this.net.veth}.1`;
  }

  /** The compose-style user-defined network (subnet `${net.app}.0/24`). */
  static readonly APP_NETWORK = 'proj_default';

  static async start(tag = 'dk'): Promise<Dockerd> {
    ensureDockerPackages();
    const d = new Dockerd(await testDir(`gh-${tag}-`), pickNet(), tag);
    try {
      await d.setUp();
    } catch (err) {
      await d.close();
      throw err;
    }
    return d;
  }

  private async ip(...args: string[]): Promise<void> {
    await run('ip', args, { timeout: 10_000 });
  }

  private async setUp(): Promise<void> {
    await chmod(this.dir, 0o711);
    await this.ip('netns', 'add', this.ns);
    this.nsMade = true;
    await this.ip('-n', this.ns, 'link', 'set', 'lo', 'up');
    await this.ip('link', 'add', this.rootIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.ns);
    await this.ip('addr', 'add', `${this.rootIp}/24`, 'dev', this.rootIf);
    await this.ip('link', 'set', this.rootIf, 'up');
    await this.ip('-n', this.ns, 'addr', 'add', `${this.net.veth}.2/24`, 'dev', 'eth0');
    await this.ip('-n', this.ns, 'link', 'set', 'eth0', 'up');
    // dockerd runs with --iptables=false: forwarding between the veth and its bridges is ours to allow.
    await run('ip', ['netns', 'exec', this.ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    for (const sub of [this.net.bridge, this.net.app])
      await this.ip('route', 'add', `${sub}.0/24`, 'via', `${this.net.veth}.2`);
    await writeFile(join(this.dir, 'daemon.json'), '{}\n');
    await this.startDaemon();
    await this.buildImage();
    await this.docker(['network', 'create', '--subnet', `${this.net.app}.0/24`, Dockerd.APP_NETWORK]);
  }

  /** Starts dockerd (again, after stopDaemon: live-restore kept the containers running). */
  async startDaemon(): Promise<void> {
    const log = openSync(join(this.dir, 'dockerd.log'), 'a');
    const D = this.dir;
    // nsenter rather than `ip netns exec`, which remounts /sys and hides the cgroup mounts.
    this.daemon = spawn(
      'nsenter',
      [
        `--net=/var/run/netns/${this.ns}`,
        'dockerd',
        `--config-file=${D}/daemon.json`,
        `--data-root=${D}/root`,
        `--exec-root=${D}/exec`,
        `--pidfile=${D}/docker.pid`,
        `-H`,
        this.endpoint,
        '--iptables=false',
        '--ip6tables=false',
        '--ip-forward=false',
        `--bip=${this.net.bridge}.1/24`,
        '--live-restore',
        '--shutdown-timeout=1',
        '--log-level=warn',
      ],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    const deadline = Date.now() + 20_000;
    while (!(await this.ping())) {
      if (this.daemon.exitCode !== null) throw new Error(`dockerd exited:\n${this.tail()}`);
      if (Date.now() > deadline) throw new Error(`dockerd did not answer within 20 s:\n${this.tail()}`);
      await sleep(50);
    }
  }

  /** Stops dockerd by its PID (SIGTERM); containers keep running (live-restore). */
  async stopDaemon(): Promise<void> {
    const d = this.daemon;
    this.daemon = undefined;
    if (!d || d.exitCode !== null || d.signalCode !== null) return;
    const exited = new Promise((r) => d.once('exit', r));
    d.kill('SIGTERM');
    const timer = setTimeout(() => d.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  ping(): Promise<boolean> {
    return new Promise((resolve) => {
      const req = request({ socketPath: this.socket, path: '/_ping', timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
      req.end();
    });
  }

  tail(lines = 20): string {
    try {
      return readFileSync(join(this.dir, 'dockerd.log'), 'utf8')
        .trimEnd()
        .split('\n')
        .slice(-lines)
        .join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** Runs Debian's docker client against this daemon; resolves with its output. */
  async docker(args: string[], timeoutMs = 20_000): Promise<string> {
    const r = await run('/usr/bin/docker', ['-H', this.endpoint, ...args], {
      timeout: timeoutMs,
      env: { ...process.env, DOCKER_CONFIG: join(this.dir, 'client') },
    });
    return r.stdout.trim();
  }

  /** An image of busybox-static: sh and httpd, nothing else. */
  private async buildImage(): Promise<void> {
    const root = join(this.dir, 'rootfs');
    await mkdir(join(root, 'bin'), { recursive: true });
    await mkdir(join(root, 'tmp'), { recursive: true });
    await copyFile('/bin/busybox', join(root, 'bin', 'busybox'));
    for (const tool of ['sh', 'httpd', 'mkdir', 'echo', 'sleep'])
      await symlink('busybox', join(root, 'bin', tool));
    const tar = join(this.dir, 'rootfs.tar');
    await run('tar', ['-C', root, '-cf', tar, '.']);
    await this.docker(['import', tar, IMAGE]);
  }

  /**
   * Starts a container named `name` whose web server answers / (and `paths`) with `body`.
   * docker-init (--init) forwards SIGTERM, so a stop takes no grace period.
   */
  async run(name: string, o: RunOptions = {}): Promise<string> {
    const port = o.port ?? 80;
    const args = ['run', '-d', '--init', '--name', name, '--stop-timeout', '1'];
    for (const [k, v] of Object.entries(o.labels ?? {})) args.push('--label', `${k}=${v}`);
    if (o.network) args.push('--network', o.network);
    const dirs = ['/w', ...(o.paths ?? []).map((p) => `/w/${p}`)];
    const script = [
      ...dirs.map((d) => `mkdir -p ${d} && echo "$BODY" > ${d}/index.html`),
      `exec /bin/httpd -f -p ${port} -h /w`,
    ].join(' && ');
    args.push('-e', `BODY=${o.body ?? name}`, IMAGE, '/bin/sh', '-c', script);
    return this.docker(args);
  }

  async ipOf(name: string): Promise<string> {
    return this.docker([
      'inspect',
      '-f',
      '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}',
      name,
    ]).then((s) => s.split(' ')[0] ?? '');
  }

  /**
   * Removes everything: containers (through the daemon while it answers), dockerd, every process
   * left in our namespace and their children (containerd, shims, container processes), mounts below
   * our dir, the namespace (the veth and routes go with it) and the dir.
   */
  async close(): Promise<void> {
    if (this.daemon && (await this.ping())) {
      const ids = await this.docker(['ps', '-aq']).catch(() => '');
      if (ids) await this.docker(['rm', '-f', ...ids.split(/\s+/)], 30_000).catch(() => undefined);
    }
    await this.stopDaemon();
    if (this.nsMade) {
      const pids = await run('ip', ['netns', 'pids', this.ns]).then(
        (r) => r.stdout.split(/\s+/).filter(Boolean).map(Number),
        () => [] as number[],
      );
      for (const pid of pids.flatMap(withDescendants)) kill(pid);
      await waitGone(pids, 5000);
    }
    for (const m of mountsBelow(this.dir)) await run('umount', ['-l', m]).catch(() => undefined);
    if (this.nsMade) await this.ip('netns', 'del', this.ns).catch(() => undefined);
    this.nsMade = false;
    await run('ip', ['link', 'del', this.rootIf]).catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** A process and everything below it, children first found from /proc. */
function withDescendants(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      const kids = readFileSync(`/proc/${out[i]}/task/${out[i]}/children`, 'utf8').trim();
      if (kids) out.push(...kids.split(/\s+/).map(Number));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** A zombie (nobody reaps orphans here) counts as gone. */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function waitGone(pids: number[], ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (pids.some(running) && Date.now() < deadline) await sleep(50);
}

/** Mount points at or below `dir`, deepest first. */
function mountsBelow(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** For unit tests of the label parser: a running container on the default bridge (172.17.0.5). */
export function labelFacts(
  labels: Record<string, string>,
  more: Partial<ContainerFacts> = {},
): ContainerFacts {
  return {
    id: 'c0ffee',
    name: 'web',
    labels,
    networkMode: 'bridge',
    networks: [{ name: 'bridge', ip: '172.17.0.5' }],
    ports: [],
    ...more,
  };
}

/** Whether any of `cidrs` contains `ip`. */
export function covers(cidrs: string[], ip: string): boolean {
  const a = toRange(ip);
  return cidrs.some((c) => {
    const r = toRange(c);
    return !!a && !!r && r.v6 === a.v6 && r.start <= a.start && a.end <= r.end;
  });
}
