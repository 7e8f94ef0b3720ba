import type { SiteAdded } from '../../src/api/views/index.js';
import { ADMIN_TOKEN, startTestGatehouse, type TestGatehouse } from './gatehouse.js';
import { freePort, http, json, type Res } from './net.js';
import {
  backendScript,
  edgeIface,
  EDGE_HTTP,
  HOMES,
  requireSitePrerequisites,
  siteIface,
  SiteLab,
  startConnector,
  startVpsEdge,
  type Home,
  type Vps,
} from './site-lab.js';
import { testDir } from './tmp.js';

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
  static readonly edgeIface = edgeIface;
  /** A home connector's WireGuard interface. */
  static readonly siteIface = siteIface;

  /** Starts (or restarts, same directory and key) the edge agent of a VPS. */
  startEdge(vps: Vps): void {
    const e = this.edgeDirs.get(vps);
    if (!e) throw new Error(`no edge on ${vps}`);
    startVpsEdge(this.lab, { vps, apiPort: this.apiPort, ...e, logLevel: this.logLevel });
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
    return startConnector(this.lab, home, command, { logLevel: this.logLevel });
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

/** The one builder of the site lab (HomeLab.build). */
export const buildHomeLab = (o: HomeLabOptions = {}) => HomeLab.build(o);
