import { spawnSync } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ADMIN_TOKEN } from './gatehouse.js';
import { until } from './net.js';
import { GATEHOUSE_BIN, NetnsLab, run, runCli, vethArgs, type CliResult } from './netns.js';
import { testDir } from './tmp.js';

/**
 * VPSs and homes behind NAT, in network namespaces this process creates (docs/sites.md's test):
 *
 *   root (this process: control plane, client) ─ veth 10.214.N.0/24 ─ inet (the VPS edge)
 *   inet ─ veth "the internet" 198.18.N.0/24 ─ home (a router: nftables masquerade out of `wan`)
 *   home ─ bridge 192.168.77.0/24 ─ lan (the site's connector, .10) and nas (the LAN service, .20)
 *
 * Nothing routes 192.168.77.0/24 outside home: only the tunnel reaches it. inet masquerades what
 * home sends on towards the root namespace (the control plane), as a VPS's provider would.
 * addSecondEdge() adds a second VPS (inet2), addSecondHome() a second home (home2: lan2, nas2 on
 * 192.168.78.0/24); each home has a link of its own to each VPS.
 */
export type Host = 'inet' | 'inet2' | 'home' | 'lan' | 'nas' | 'home2' | 'lan2' | 'nas2';

/** A home's addresses: its LAN block, its connector and its service. */
export const HOMES = {
  home: { lan: 'lan', nas: 'nas', net: '192.168.77', subnet: '192.168.77.0/24' },
  home2: { lan: 'lan2', nas: 'nas2', net: '192.168.78', subnet: '192.168.78.0/24' },
} as const;
export type Home = keyof typeof HOMES;

export class SiteLab extends NetnsLab {
  readonly rootIf: string;

  private constructor(
    id: string,
    readonly n: number,
    dir: string,
  ) {
    super(id, dir);
    this.rootIf = `ghs${process.pid}`.slice(0, 15);
  }

  override ns(host: Host): string {
    return super.ns(host);
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

  private has(host: Host): boolean {
    return this.made.includes(this.ns(host));
  }

  /** A veth between two namespaces (`b` undefined: the root namespace), addressed `net`.1 and .2. */
  private async wire(a: Host, aIf: string, b: Host | undefined, bIf: string, net: string): Promise<void> {
    const peerNs = b ? this.ns(b) : String(process.pid);
    await this.ipc(...vethArgs(this.ns(a), aIf, bIf, peerNs));
    const bSide = b ? ['-n', this.ns(b)] : [];
    await this.ipc('-n', this.ns(a), 'addr', 'add', `${net}.${b ? 1 : 2}/24`, 'dev', aIf);
    await this.ipc('-n', this.ns(a), 'link', 'set', aIf, 'up');
    await this.ipc(...bSide, 'addr', 'add', `${net}.${b ? 2 : 1}/24`, 'dev', bIf);
    await this.ipc(...bSide, 'link', 'set', bIf, 'up');
  }

  /** A VPS: its namespace, its link to the root namespace, NAT towards it, forwarding on. */
  private async addVps(vps: 'inet' | 'inet2', rootIf: string, net: string): Promise<void> {
    await this.addNamespace(this.ns(vps));
    await this.wire(vps, 'up0', undefined, rootIf, net);
    await this.exec(vps, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    await this.masquerade(vps, 'up0');
  }

  private async masquerade(h: Host, oif: string): Promise<void> {
    await this.exec(h, 'nft', ['add', 'table', 'ip', 'lab']);
    await this.exec(h, 'nft', ['add chain ip lab post { type nat hook postrouting priority 100; }']);
    await this.exec(h, 'nft', ['add', 'rule', 'ip', 'lab', 'post', 'oifname', oif, 'masquerade']);
  }

  /** The "internet" links of a home to a VPS: `wan` to inet (its default route), `wan2` to inet2. */
  private internet(home: Home, vps: 'inet' | 'inet2'): string {
    if (home === 'home') return vps === 'inet' ? `198.18.${this.n}` : `198.19.${this.n}`;
    return vps === 'inet' ? '203.0.113' : '198.51.100';
  }

  private async linkHomeToVps(home: Home, vps: 'inet' | 'inet2'): Promise<void> {
    const wan = vps === 'inet' ? 'wan' : 'wan2';
    await this.wire(vps, home === 'home' ? 'home0' : 'home1', home, wan, this.internet(home, vps));
    const via = `${this.internet(home, vps)}.1`;
    if (vps === 'inet') await this.ipc('-n', this.ns(home), 'route', 'add', 'default', 'via', via);
    // The VPS's public address (where sites dial it) through this link, whichever link it is on.
    const pub = vps === 'inet' ? this.vpsWan : this.vps2Wan;
    if (pub !== via) await this.ipc('-n', this.ns(home), 'route', 'add', `${pub}/32`, 'via', via);
    await this.exec(home, 'nft', ['add', 'rule', 'ip', 'lab', 'post', 'oifname', wan, 'masquerade']);
  }

  /** A home: its router (NAT out of its internet links) and its LAN bridge with lan and nas on it. */
  private async addHome(home: Home): Promise<void> {
    const h = HOMES[home];
    for (const ns of [home, h.lan, h.nas] as const) await this.addNamespace(this.ns(ns));
    await this.exec(home, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    await this.exec(home, 'nft', ['add', 'table', 'ip', 'lab']);
    await this.exec(home, 'nft', ['add chain ip lab post { type nat hook postrouting priority 100; }']);
    await this.ipc('-n', this.ns(home), 'link', 'add', 'br0', 'type', 'bridge');
    await this.ipc('-n', this.ns(home), 'addr', 'add', `${h.net}.1/24`, 'dev', 'br0');
    await this.ipc('-n', this.ns(home), 'link', 'set', 'br0', 'up');
    for (const [host, ip] of [
      [h.lan, `${h.net}.10`],
      [h.nas, `${h.net}.20`],
    ] as const) {
      const port = `p-${host}`;
      await this.ipc(...vethArgs(this.ns(home), port, 'eth0', this.ns(host)));
      await this.ipc('-n', this.ns(home), 'link', 'set', port, 'master', 'br0', 'up');
      await this.ipc('-n', this.ns(host), 'addr', 'add', `${ip}/24`, 'dev', 'eth0');
      await this.ipc('-n', this.ns(host), 'link', 'set', 'eth0', 'up');
      await this.ipc('-n', this.ns(host), 'route', 'add', 'default', 'via', `${h.net}.1`);
    }
    for (const vps of ['inet', 'inet2'] as const) if (this.has(vps)) await this.linkHomeToVps(home, vps);
  }

  private async build(): Promise<void> {
    await this.addVps('inet', this.rootIf, `10.214.${this.n}`);
    await this.addHome('home');
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
   * namespace over 10.215.N.0/24 and from each home over its own "internet" link (home's `wan2`,
   * 198.19.N.0/24, masqueraded like `wan`). A home's default route stays via the first VPS; the
   * second VPS's public address is on a directly connected link, so a site reaches it with the
   * first VPS gone.
   */
  async addSecondEdge(): Promise<void> {
    const routes =
      (await run('ip', ['-4', 'route', 'show'])).stdout + (await run('ip', ['-4', 'addr'])).stdout;
    if (routes.includes(`10.215.${this.n}.`)) throw new Error(`10.215.${this.n}.0/24 is in use here`);
    await this.addVps('inet2', this.rootIf2, `10.215.${this.n}`);
    for (const home of ['home', 'home2'] as const)
      if (this.has(home)) await this.linkHomeToVps(home, 'inet2');
  }

  /**
   * A second home behind NAT (home2: lan2 its connector at .10, nas2 its service at .20 of
   * 192.168.78.0/24), linked to inet (203.0.113.0/24, its default route) and to inet2 if there is
   * one (198.51.100.0/24). Only namespaces of this lab hold these addresses.
   */
  async addSecondHome(): Promise<void> {
    await this.addHome('home2');
  }

  /** Cuts home's internet link (its default route goes with it), as a modem losing its line. */
  async cutHome(): Promise<void> {
    await this.ipc('-n', this.ns('home'), 'link', 'set', 'wan', 'down');
  }

  async restoreHome(): Promise<void> {
    await this.ipc('-n', this.ns('home'), 'link', 'set', 'wan', 'up');
    await this.ipc('-n', this.ns('home'), 'route', 'replace', 'default', 'via', this.vpsWan);
  }

  override tail(log: string, lines = 20): string {
    return super.tail(log, lines);
  }

  async destroy(): Promise<void> {
    await this.stopAll(5000);
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

export const EDGE_HTTP = 8080;
export const WG_PORT = 51820;
export type Vps = 'inet' | 'inet2';

/** A Node one-liner answering `body` on ip:port (a LAN service, or a local backend). */
export const backendScript = (ip: string, port: number, body: string) =>
  `require('http').createServer((q,s)=>s.end(${JSON.stringify(body)})).listen(${port},'${ip}')`;

/** A WireGuard interface of this process (wireguard-go's socket is per machine: the PID tells them apart). */
export const wgIface = (prefix: string): string => `${prefix}${process.pid}`.slice(0, 15);
/** A VPS's WireGuard interface. */
export const edgeIface = (vps: Vps): string => wgIface(vps === 'inet' ? 'ghe' : 'ghf');
/** A home connector's WireGuard interface. */
export const siteIface = (home: Home): string => wgIface(home === 'home' ? 'ghs' : 'ghu');

export interface VpsEdgeOptions {
  vps?: Vps;
  /** The control plane's API port in this process (reached through the VPS's link to it). */
  apiPort: number;
  /** The node token of a `role: public` node. */
  token: string;
  /** The edge directory (the same one again on a restart: same key). */
  dir: string;
  logLevel?: string;
}

/** Starts (or restarts) an edge agent with a WireGuard server in a VPS namespace (log: edge-VPS.log). */
export function startVpsEdge(lab: SiteLab, o: VpsEdgeOptions): void {
  const vps = o.vps ?? 'inet';
  const rootIp = vps === 'inet' ? lab.rootIp : `10.215.${lab.n}.1`;
  const wan = vps === 'inet' ? lab.vpsWan : lab.vps2Wan;
  lab.spawn(
    vps,
    process.execPath,
    [
      GATEHOUSE_BIN,
      'edge',
      ...['--control', `http://${rootIp}:${o.apiPort}`, '--insecure-control', '--node-token', o.token],
      ...['--edge-dir', o.dir, '--edge-http-port', String(EDGE_HTTP)],
      ...['--edge-https-port', '0', '--log-level', o.logLevel ?? 'info'],
      ...['--tunnel-port', String(WG_PORT), '--tunnel-endpoint', `${wan}:${WG_PORT}`],
      ...['--tunnel-interface', edgeIface(vps)],
    ],
    `edge-${vps}.log`,
  );
}

export interface ControlPlaneEdge {
  /** Its own lab (destroy it when done). */
  lab: SiteLab;
  /** The API's URL (from this process: inet's address). */
  url: string;
  /** `gatehouse ARGS --api URL --token ADMIN_TOKEN`. */
  cli(...args: string[]): Promise<CliResult>;
}

/**
 * A site lab whose VPS runs the control plane, its own WireGuard server: `gatehouse up --vpn-port`
 * in the inet namespace (API on `port`, nginx on EDGE_HTTP, log: up.log), `args` added; resolves
 * once `site ls` answers.
 */
export async function buildControlPlaneEdge(
  o: { port?: number; args?: string[] } = {},
): Promise<ControlPlaneEdge> {
  requireSitePrerequisites();
  const lab = await SiteLab.create();
  try {
    return await startControlPlaneEdge(lab, o.port ?? 7070, o.args ?? []);
  } catch (err) {
    await lab.destroy();
    throw err;
  }
}

async function startControlPlaneEdge(lab: SiteLab, port: number, extra: string[]): Promise<ControlPlaneEdge> {
  const url = `http://${lab.edgeIp}:${port}`;
  const cli = (...args: string[]) => runCli([...args, '--api', url, '--token', ADMIN_TOKEN]);
  const env = Object.entries(process.env)
    .filter(([k]) => !k.startsWith('GATEHOUSE_'))
    .map(([k, v]) => `${k}=${v ?? ''}`);
  lab.spawn(
    'inet',
    'env',
    [
      ...['-i', ...env, `GATEHOUSE_ADMIN_TOKEN=${ADMIN_TOKEN}`, process.execPath, GATEHOUSE_BIN, 'up'],
      ...['--data-dir', await testDir('gh-site-cp-'), '--api-listen', `0.0.0.0:${port}`],
      ...['--http-port', String(EDGE_HTTP), '--https-port', '0', '--nginx-workers', '1'],
      ...['--log-level', 'info', ...extra],
      ...['--vpn-port', String(WG_PORT), '--vpn-endpoint', `${lab.vpsWan}:${WG_PORT}`],
      ...['--vpn-interface', wgIface('ghl')],
    ],
    'up.log',
  );
  await until(async () => ((await cli('site', 'ls')).status === 0 ? true : undefined), 30_000, 250).catch(
    (err: unknown) => {
      throw new Error(`${String(err)}\n${lab.tail('up.log')}`);
    },
  );
  return { lab, url, cli };
}

/**
 * Runs a site's `gatehouse site connect …` command on a home's connector machine (log:
 * site-HOME.log); `control` fills in the command's "<this API's URL>".
 */
export async function startConnector(
  lab: SiteLab,
  home: Home,
  command: string,
  o: { control?: string; logLevel?: string } = {},
): Promise<void> {
  const args = command
    .replace(/^gatehouse /, '')
    .replace("<this API's URL>", o.control ?? "<this API's URL>")
    .split(' ');
  lab.spawn(
    HOMES[home].lan,
    process.execPath,
    [
      GATEHOUSE_BIN,
      ...args,
      ...['--insecure-control', '--site-dir', await testDir(`gh-site-${home}-`)],
      ...['--interface', siteIface(home), '--log-level', o.logLevel ?? 'info'],
    ],
    `site-${home}.log`,
  );
}

/**
 * Gives a VPN client's WireGuard interface the config `vpn client add` printed (wg setconf reads
 * no Address or DNS line: the address is set by hand, replacing any before).
 */
export async function setVpnClientConfig(
  lab: SiteLab,
  host: Host,
  iface: string,
  client: { config: string; address: string },
): Promise<void> {
  const file = join(lab.dir, `${iface}.conf`);
  await writeFile(file, client.config.replace(/^(Address|DNS) = .*\n/gm, ''), { mode: 0o600 });
  await lab.exec(host, 'wg', ['setconf', iface, file]);
  await lab.exec(host, 'ip', ['addr', 'flush', 'dev', iface]);
  await lab.exec(host, 'ip', ['addr', 'add', `${client.address}/32`, 'dev', iface]);
  await lab.exec(host, 'ip', ['link', 'set', iface, 'up']);
}

/**
 * A device with a config from `vpn client add`: wireguard-go in `host`'s namespace (log:
 * vpn-client.log), given the config. Resolves with its interface's name.
 */
export async function startVpnClient(
  lab: SiteLab,
  host: Host,
  client: { config: string; address: string },
  iface = wgIface('ghc'),
): Promise<string> {
  lab.spawn(host, 'wireguard-go', ['-f', iface], 'vpn-client.log');
  await until(
    async () => (await lab.exec(host, 'wg', ['show', iface]).catch(() => undefined)) ?? undefined,
    10_000,
    100,
  );
  await setVpnClientConfig(lab, host, iface, client);
  return iface;
}
