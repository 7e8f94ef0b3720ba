import { spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import type { SiteAdded } from '../../src/api/views/index.js';
import { ADMIN_TOKEN, startTestGatehouse, type TestGatehouse } from './gatehouse.js';
import { freePort, http, json, type Res } from './net.js';
import { GATEHOUSE_BIN, NetnsLab, run } from './netns.js';
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
    await this.ipc(
      '-n',
      this.ns(a),
      'link',
      'add',
      aIf,
      'type',
      'veth',
      'peer',
      'name',
      bIf,
      'netns',
      peerNs,
    );
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
      await this.ipc(
        '-n',
        this.ns(home),
        'link',
        'add',
        port,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        this.ns(host),
      );
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

export interface HomeLabOptions {
  /** Public edges (VPS namespaces with an edge agent and a WireGuard server): 1 (inet) or 2. */
  edges?: 1 | 2;
  /** Homes behind NAT: 1 (home) or 2 (home2 too). */
  homes?: 1 | 2;
  /** What each home's NAS answers on :8080 (default 'hello from the nas'). */
  nasBody?: (home: Home) => string;
  /** Services put on the control plane: name → host and upstream. */
  services?: Record<string, { host: string; upstream: string }>;
  logLevel?: string;
}

/**
 * The site lab with everything on it the site tests and benchmarks share: a control plane in this
 * process, an edge agent with a WireGuard server in each VPS namespace, each home's NAS service,
 * the services; sites are added (addSite) and their connectors started (connect) by the caller.
 */
export class HomeLab {
  private readonly edgeDirs = new Map<Vps, { token: string; dir: string }>();

  private constructor(
    readonly lab: SiteLab,
    readonly gh: TestGatehouse,
    readonly apiPort: number,
    private readonly logLevel: string,
  ) {}

  /** The control plane's URL as seen from inside the lab (through inet's NAT). */
  get control(): string {
    return `http://${this.lab.rootIp}:${this.apiPort}`;
  }

  api(method: string, path: string, body?: unknown) {
    return json(this.apiPort, method, path, body, { authorization: `Bearer ${ADMIN_TOKEN}` });
  }

  /** A VPS's WireGuard interface (distinct names: wireguard-go's socket is per machine). */
  static edgeIface(vps: Vps): string {
    return `${vps === 'inet' ? 'ghe' : 'ghf'}${process.pid}`.slice(0, 15);
  }
  /** A home connector's WireGuard interface. */
  static siteIface(home: Home): string {
    return `${home === 'home' ? 'ghs' : 'ghu'}${process.pid}`.slice(0, 15);
  }

  /** Starts (or restarts, same directory and key) the edge agent of a VPS. */
  startEdge(vps: Vps): void {
    const e = this.edgeDirs.get(vps);
    if (!e) throw new Error(`no edge on ${vps}`);
    const rootIp = vps === 'inet' ? this.lab.rootIp : `10.215.${this.lab.n}.1`;
    const wan = vps === 'inet' ? this.lab.vpsWan : this.lab.vps2Wan;
    this.lab.spawn(
      vps,
      process.execPath,
      [
        GATEHOUSE_BIN,
        'edge',
        ...['--control', `http://${rootIp}:${this.apiPort}`, '--insecure-control', '--node-token', e.token],
        ...['--edge-dir', e.dir, '--edge-http-port', String(EDGE_HTTP)],
        ...['--edge-https-port', '0', '--log-level', this.logLevel],
        ...['--tunnel-port', String(WG_PORT), '--tunnel-endpoint', `${wan}:${WG_PORT}`],
        ...['--tunnel-interface', HomeLab.edgeIface(vps)],
      ],
      `edge-${vps}.log`,
    );
  }

  /** Adds a site through the API; its connect command with this lab's control URL filled in. */
  async addSite(name: string, body: Record<string, unknown> = {}): Promise<SiteAdded> {
    const r = await this.api('POST', '/api/v1/sites', { name, ...body });
    if (r.status !== 201) throw new Error(`site add ${name}: ${r.status} ${JSON.stringify(r.json)}`);
    const added = r.json as unknown as SiteAdded;
    return { ...added, command: added.command.replace("<this API's URL>", this.control) };
  }

  /** Runs a site's connect command on a home's connector machine (log: site-HOME.log). */
  connect(home: Home, command: string): Promise<void> {
    return startConnector(this.lab, home, command, this.logLevel);
  }

  /** One request through a VPS edge's nginx (from the root namespace); status 0 on no answer. */
  via(vps: Vps, host: string, timeoutMs = 2000): Promise<Res> {
    const address = vps === 'inet' ? this.lab.edgeIp : this.lab.edge2Ip;
    return http(EDGE_HTTP, host, '/', { address, timeoutMs }).catch((e: unknown) => ({
      status: 0,
      headers: {},
      body: String(e),
    }));
  }

  /** The last lines of every log in the lab, for a failure message. */
  logs(): string {
    const names = [...this.edgeDirs.keys()].map((v) => `edge-${v}.log`);
    names.push(...(['home', 'home2'] as const).map((h) => `site-${h}.log`));
    return names.map((l) => `${l}:\n${this.lab.tail(l)}`).join('\n');
  }

  async close(): Promise<void> {
    await this.lab.destroy();
    await this.gh.close();
  }

  static async build(o: HomeLabOptions = {}): Promise<HomeLab> {
    requireSitePrerequisites();
    const lab = await SiteLab.create();
    let gh: TestGatehouse | undefined;
    try {
      if (o.edges === 2) await lab.addSecondEdge();
      if (o.homes === 2) await lab.addSecondHome();
      const apiPort = await freePort();
      gh = await startTestGatehouse({ api_listen: `0.0.0.0:${apiPort}` });
      const hl = new HomeLab(lab, gh, apiPort, o.logLevel ?? 'info');
      const homes: Home[] = o.homes === 2 ? ['home', 'home2'] : ['home'];
      for (const home of homes) {
        const h = HOMES[home];
        const body = o.nasBody?.(home) ?? 'hello from the nas';
        lab.spawn(h.nas, process.execPath, ['-e', backendScript(`${h.net}.20`, 8080, body)], `${h.nas}.log`);
      }
      const vpss: Vps[] = o.edges === 2 ? ['inet', 'inet2'] : ['inet'];
      for (const [i, vps] of vpss.entries()) {
        const node = await hl.api('POST', '/api/v1/nodes', { name: `vps${i + 1}`, role: 'public' });
        if (node.status !== 201) throw new Error(`node add: ${node.status} ${JSON.stringify(node.json)}`);
        hl.edgeDirs.set(vps, { token: String(node.json.token), dir: await testDir(`gh-site-${vps}-`) });
        hl.startEdge(vps);
      }
      for (const [name, s] of Object.entries(o.services ?? {})) {
        const put = await hl.api('PUT', `/api/v1/services/${name}`, {
          hosts: [s.host],
          routes: [{ upstreams: [s.upstream] }],
        });
        if (put.status !== 201) throw new Error(`service ${name}: ${put.status} ${JSON.stringify(put.json)}`);
      }
      return hl;
    } catch (err) {
      await lab.destroy();
      await gh?.close();
      throw err;
    }
  }
}

/** Runs a site's `gatehouse site connect …` command on a home's connector machine (log: site-HOME.log). */
export async function startConnector(
  lab: SiteLab,
  home: Home,
  command: string,
  logLevel = 'info',
): Promise<void> {
  const args = command.replace(/^gatehouse /, '').split(' ');
  lab.spawn(
    HOMES[home].lan,
    process.execPath,
    [
      GATEHOUSE_BIN,
      ...args,
      ...['--insecure-control', '--site-dir', await testDir(`gh-site-${home}-`)],
      ...['--interface', HomeLab.siteIface(home), '--log-level', logLevel],
    ],
    `site-${home}.log`,
  );
}

/** The one builder of the site lab (HomeLab.build). */
export const buildHomeLab = (o: HomeLabOptions = {}) => HomeLab.build(o);
