import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { kill, run, sleep } from './netns.js';
import { testDir } from './tmp.js';

/**
 * A VPS and a home behind NAT, in network namespaces this process creates (docs/sites.md's test):
 *
 *   root (this process: control plane, client) ─ veth 10.214.N.0/24 ─ inet (the VPS edge)
 *   inet ─ veth "the internet" 198.18.N.0/24 ─ home (a router: nftables masquerade out of `wan`)
 *   home ─ bridge 192.168.77.0/24 ─ lan (the site's connector, .10) and nas (the LAN service, .20)
 *
 * Nothing routes 192.168.77.0/24 outside home: only the tunnel reaches it. inet masquerades what
 * home sends on towards the root namespace (the control plane), as a VPS's provider would.
 */
/** The lab's machines; inet2 (a second VPS) exists after addSecondEdge(). */
export type Host = 'inet' | 'inet2' | 'home' | 'lan' | 'nas';

export class SiteLab {
  readonly children = new Set<ChildProcess>();
  private made: string[] = [];
  readonly rootIf: string;

  private constructor(
    readonly id: string,
    readonly n: number,
    readonly dir: string,
  ) {
    this.rootIf = `ghs${process.pid}`.slice(0, 15);
  }

  ns(host: Host): string {
    return `${this.id}-${host}`;
  }
  get rootIp(): string {
    return `10.214.${this.n}.1`;
  }
  get edgeIp(): string {
    return `10.214.${this.n}.2`;
  }
  /** The VPS's "public" address, where sites dial its WireGuard port. */
  get vpsWan(): string {
    return `198.18.${this.n}.1`;
  }
  get homeWan(): string {
    return `198.18.${this.n}.2`;
  }

  static async create(): Promise<SiteLab> {
    const routes =
      (await run('ip', ['-4', 'route', 'show'])).stdout + (await run('ip', ['-4', 'addr'])).stdout;
    let n = (process.pid % 200) + 20;
    while (routes.includes(`10.214.${n}.`)) n = n === 250 ? 20 : n + 1;
    const lab = new SiteLab(`ghsite${process.pid}`, n, await testDir('gh-site-lab-'));
    try {
      await lab.build();
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  private ipc(...args: string[]) {
    return run('ip', args, { timeout: 10_000 });
  }

  /** A command inside a namespace. */
  exec(host: Host, cmd: string, args: string[]) {
    return run('ip', ['netns', 'exec', this.ns(host), cmd, ...args], { timeout: 10_000 });
  }

  private async build(): Promise<void> {
    for (const h of ['inet', 'home', 'lan', 'nas'] as const) {
      await this.ipc('netns', 'add', this.ns(h));
      this.made.push(this.ns(h));
      await this.ipc('-n', this.ns(h), 'link', 'set', 'lo', 'up');
    }
    // root ─ inet
    await this.ipc(
      'link',
      'add',
      this.rootIf,
      'type',
      'veth',
      'peer',
      'name',
      'up0',
      'netns',
      this.ns('inet'),
    );
    await this.ipc('addr', 'add', `${this.rootIp}/24`, 'dev', this.rootIf);
    await this.ipc('link', 'set', this.rootIf, 'up');
    await this.ipc('-n', this.ns('inet'), 'addr', 'add', `${this.edgeIp}/24`, 'dev', 'up0');
    await this.ipc('-n', this.ns('inet'), 'link', 'set', 'up0', 'up');
    // inet ─ home ("the internet")
    await this.ipc(
      '-n',
      this.ns('inet'),
      'link',
      'add',
      'home0',
      'type',
      'veth',
      'peer',
      'name',
      'wan',
      'netns',
      this.ns('home'),
    );
    await this.ipc('-n', this.ns('inet'), 'addr', 'add', `${this.vpsWan}/24`, 'dev', 'home0');
    await this.ipc('-n', this.ns('inet'), 'link', 'set', 'home0', 'up');
    await this.ipc('-n', this.ns('home'), 'addr', 'add', `${this.homeWan}/24`, 'dev', 'wan');
    await this.ipc('-n', this.ns('home'), 'link', 'set', 'wan', 'up');
    await this.ipc('-n', this.ns('home'), 'route', 'add', 'default', 'via', this.vpsWan);
    // home's LAN: a bridge with lan and nas on it
    await this.ipc('-n', this.ns('home'), 'link', 'add', 'br0', 'type', 'bridge');
    await this.ipc('-n', this.ns('home'), 'addr', 'add', '192.168.77.1/24', 'dev', 'br0');
    await this.ipc('-n', this.ns('home'), 'link', 'set', 'br0', 'up');
    for (const [h, ip] of [
      ['lan', '192.168.77.10'],
      ['nas', '192.168.77.20'],
    ] as const) {
      await this.ipc(
        '-n',
        this.ns('home'),
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
      await this.ipc('-n', this.ns('home'), 'link', 'set', `p-${h}`, 'master', 'br0', 'up');
      await this.ipc('-n', this.ns(h), 'addr', 'add', `${ip}/24`, 'dev', 'eth0');
      await this.ipc('-n', this.ns(h), 'link', 'set', 'eth0', 'up');
      await this.ipc('-n', this.ns(h), 'route', 'add', 'default', 'via', '192.168.77.1');
    }
    // Routers: home NATs its LAN out of wan; inet NATs what it forwards towards the root namespace.
    await this.exec('home', 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    await this.exec('inet', 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    for (const [h, oif] of [
      ['home', 'wan'],
      ['inet', 'up0'],
    ] as const) {
      await this.exec(h, 'nft', ['add', 'table', 'ip', 'lab']);
      await this.exec(h, 'nft', ['add chain ip lab post { type nat hook postrouting priority 100; }']);
      await this.exec(h, 'nft', ['add', 'rule', 'ip', 'lab', 'post', 'oifname', oif, 'masquerade']);
    }
  }

  /** The second VPS (after addSecondEdge): its address from the root namespace, and its public one. */
  get edge2Ip(): string {
    return `10.215.${this.n}.2`;
  }
  get vps2Wan(): string {
    return `198.19.${this.n}.1`;
  }
  private get rootIf2(): string {
    return `ght${process.pid}`.slice(0, 15);
  }

  /**
   * A second VPS, for a site with two public edges: the namespace inet2, reached from the root
   * namespace over 10.215.N.0/24 and from home over its own "internet" link 198.19.N.0/24 (home's
   * `wan2`, masqueraded like `wan`). Home's default route stays via the first VPS; the second VPS's
   * public address is on a directly connected link, so a site reaches it with the first VPS gone.
   */
  async addSecondEdge(): Promise<void> {
    const routes =
      (await run('ip', ['-4', 'route', 'show'])).stdout + (await run('ip', ['-4', 'addr'])).stdout;
    if (routes.includes(`10.215.${this.n}.`)) throw new Error(`10.215.${this.n}.0/24 is in use here`);
    await this.ipc('netns', 'add', this.ns('inet2'));
    this.made.push(this.ns('inet2'));
    await this.ipc('-n', this.ns('inet2'), 'link', 'set', 'lo', 'up');
    await this.ipc(
      'link',
      'add',
      this.rootIf2,
      'type',
      'veth',
      'peer',
      'name',
      'up0',
      'netns',
      this.ns('inet2'),
    );
    await this.ipc('addr', 'add', `10.215.${this.n}.1/24`, 'dev', this.rootIf2);
    await this.ipc('link', 'set', this.rootIf2, 'up');
    await this.ipc('-n', this.ns('inet2'), 'addr', 'add', `${this.edge2Ip}/24`, 'dev', 'up0');
    await this.ipc('-n', this.ns('inet2'), 'link', 'set', 'up0', 'up');
    const i2 = ['-n', this.ns('inet2')];
    await this.ipc(
      ...i2,
      'link',
      'add',
      'home0',
      'type',
      'veth',
      'peer',
      'name',
      'wan2',
      'netns',
      this.ns('home'),
    );
    await this.ipc(...i2, 'addr', 'add', `${this.vps2Wan}/24`, 'dev', 'home0');
    await this.ipc(...i2, 'link', 'set', 'home0', 'up');
    await this.ipc('-n', this.ns('home'), 'addr', 'add', `198.19.${this.n}.2/24`, 'dev', 'wan2');
    await this.ipc('-n', this.ns('home'), 'link', 'set', 'wan2', 'up');
    await this.exec('home', 'nft', ['add', 'rule', 'ip', 'lab', 'post', 'oifname', 'wan2', 'masquerade']);
  }

  /**
   * A machine going down: every process in its namespace is killed at once (SIGKILL, as a power
   * cut; a wireguard-go's interface goes with its process). The namespace and its links stay.
   */
  async killHost(host: Host): Promise<void> {
    const pids = await run('ip', ['netns', 'pids', this.ns(host)]).then(
      (r) => r.stdout.split(/\s+/).filter(Boolean).map(Number),
      () => [],
    );
    for (const pid of pids) kill(pid, 'SIGKILL');
    for (let i = 0; i < 50; i++) {
      const left = (await run('ip', ['netns', 'pids', this.ns(host)])).stdout.trim();
      if (!left) return;
      await sleep(100);
    }
    throw new Error(`processes left in ${this.ns(host)} after SIGKILL`);
  }

  /** Cuts home's internet link (its default route goes with it), as a modem losing its line. */
  async cutHome(): Promise<void> {
    await this.ipc('-n', this.ns('home'), 'link', 'set', 'wan', 'down');
  }

  async restoreHome(): Promise<void> {
    await this.ipc('-n', this.ns('home'), 'link', 'set', 'wan', 'up');
    await this.ipc('-n', this.ns('home'), 'route', 'replace', 'default', 'via', this.vpsWan);
  }

  spawn(host: Host, cmd: string, args: string[], log: string): ChildProcess {
    const fd = openSync(join(this.dir, log), 'a');
    const child = spawn('ip', ['netns', 'exec', this.ns(host), cmd, ...args], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  tail(log: string, lines = 20): string {
    try {
      return readFileSync(join(this.dir, log), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  async destroy(): Promise<void> {
    const exits = [...this.children].map((c) =>
      c.exitCode !== null || c.signalCode !== null
        ? Promise.resolve()
        : new Promise((r) => c.once('exit', r)),
    );
    for (const c of this.children) kill(c.pid, 'SIGTERM');
    await Promise.race([Promise.all(exits), sleep(5000)]);
    for (const ns of this.made) {
      const pids = await run('ip', ['netns', 'pids', ns]).then(
        (r) => r.stdout.split(/\s+/).filter(Boolean).map(Number),
        () => [],
      );
      for (const pid of pids) kill(pid, 'SIGKILL');
    }
    for (const ns of this.made.reverse()) await this.ipc('netns', 'del', ns).catch(() => undefined);
    this.made = [];
    await this.ipc('link', 'del', this.rootIf).catch(() => undefined);
    await this.ipc('link', 'del', this.rootIf2).catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** What the site tests need from the machine; a missing part fails with the fix. */
export function requireSitePrerequisites(): void {
  if (process.getuid?.() !== 0) throw new Error('network namespaces need root');
  for (const [bin, pkg] of [
    ['ip', 'iproute2'],
    ['nft', 'nftables'],
    ['wg', 'wireguard-tools'],
    ['wireguard-go', 'wireguard-go'],
    ['nginx', 'nginx'],
  ]) {
    if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0)
      throw new Error(`${bin} is missing: apt-get install -y --no-install-recommends ${pkg}`);
  }
}
