import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ADMIN_TOKEN, startTestGatehouse, type TestGatehouse } from '../../test/helpers/gatehouse.js';
import { freePort, http, json, until, type Res } from '../../test/helpers/net.js';
import { GATEHOUSE_BIN } from '../../test/helpers/netns.js';
import { requireSitePrerequisites, SiteLab } from '../../test/helpers/site-lab.js';
import { testDir } from '../../test/helpers/tmp.js';
import { cpuSnapshot, type CpuSnapshot } from './proc-cpu.js';
import { parseWrk, type WrkResult } from './wrk.js';

export const EDGE_HTTP = 8080;
const WG_PORT = 51820;
export const HOME_HOST = 'app.home.test';
export const LOCAL_HOST = 'app.local.test';
/** The same backend on both sides: a Node one-liner answering 'ok'. */
const backend = (ip: string, port: number) =>
  `require('http').createServer((q,s)=>s.end('ok')).listen(${port},'${ip}')`;

/**
 * The e2e test's site lab (test/helpers/site-lab.ts) for the issue 16 figures: a control plane in
 * this process, a VPS edge agent with a WireGuard server in the "inet" namespace, a home behind NAT
 * whose connector dials it, and two services on the VPS edge: one whose upstream is the NAS at home
 * (through the tunnel), one whose upstream is the same kind of backend on the VPS's own loopback.
 */
export class SiteBench {
  private constructor(
    readonly lab: SiteLab,
    readonly gh: TestGatehouse,
  ) {}

  static async start(): Promise<SiteBench> {
    requireSitePrerequisites();
    const lab = await SiteLab.create();
    let gh: TestGatehouse | undefined;
    try {
      const apiPort = await freePort();
      gh = await startTestGatehouse({ api_listen: `0.0.0.0:${apiPort}` });
      const b = new SiteBench(lab, gh);
      await b.setUp(apiPort);
      return b;
    } catch (err) {
      await lab.destroy();
      await gh?.close();
      throw err;
    }
  }

  private async setUp(apiPort: number): Promise<void> {
    const { lab } = this;
    const api = (method: string, path: string, body?: unknown) =>
      json(apiPort, method, path, body, { authorization: `Bearer ${ADMIN_TOKEN}` });
    const control = `http://${lab.rootIp}:${apiPort}`;
    lab.spawn('nas', process.execPath, ['-e', backend('192.168.77.20', 8080)], 'nas.log');
    lab.spawn('inet', process.execPath, ['-e', backend('127.0.0.1', 9090)], 'local.log');
    const node = await api('POST', '/api/v1/nodes', { name: 'vps', role: 'public' });
    if (node.status !== 201) throw new Error(`node add: ${node.status} ${JSON.stringify(node.json)}`);
    lab.spawn(
      'inet',
      process.execPath,
      [
        GATEHOUSE_BIN,
        'edge',
        ...['--control', control, '--insecure-control', '--node-token', String(node.json.token)],
        ...['--edge-dir', await testDir('gh-bench-edge-'), '--edge-http-port', String(EDGE_HTTP)],
        ...['--edge-https-port', '0', '--log-level', 'warn'],
        ...['--tunnel-port', String(WG_PORT), '--tunnel-endpoint', `${lab.vpsWan}:${WG_PORT}`],
        ...['--tunnel-interface', `ghe${process.pid}`.slice(0, 15)],
      ],
      'edge.log',
    );
    for (const [name, host, upstream] of [
      ['homeapp', HOME_HOST, '192.168.77.20:8080'],
      ['localapp', LOCAL_HOST, '127.0.0.1:9090'],
    ] as const) {
      const put = await api('PUT', `/api/v1/services/${name}`, {
        hosts: [host],
        routes: [{ upstreams: [upstream] }],
      });
      if (put.status !== 201) throw new Error(`service ${name}: ${put.status} ${JSON.stringify(put.json)}`);
    }
    const site = await api('POST', '/api/v1/sites', { name: 'home', subnets: ['192.168.77.0/24'] });
    if (site.status !== 201) throw new Error(`site add: ${site.status} ${JSON.stringify(site.json)}`);
    // The API leaves the control plane's URL to the caller (the CLI fills in its --api).
    const command = String(site.json.command).replace("<this API's URL>", control);
    const args = command.replace(/^gatehouse /, '').split(' ');
    lab.spawn(
      'lan',
      process.execPath,
      [
        GATEHOUSE_BIN,
        ...args,
        ...['--insecure-control', '--site-dir', await testDir('gh-bench-site-')],
        ...['--interface', `ghs${process.pid}`.slice(0, 15), '--log-level', 'warn'],
      ],
      'site.log',
    );
    await until(async () => ((await this.get(LOCAL_HOST)).status === 200 ? true : undefined), 30_000, 200);
    await until(
      async () => ((await this.get(HOME_HOST)).status === 200 ? true : undefined),
      30_000,
      200,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\nedge:\n${lab.tail('edge.log')}\nsite:\n${lab.tail('site.log')}`);
    });
  }

  /** One request through the VPS edge's nginx (from the root namespace); status 0 on no answer. */
  get(host: string, timeoutMs = 2000): Promise<Res> {
    return http(EDGE_HTTP, host, '/', { address: this.lab.edgeIp, timeoutMs }).catch((e: unknown) => ({
      status: 0,
      headers: {},
      body: String(e),
    }));
  }

  /** wrk inside the VPS namespace against its own nginx on loopback (the client is not the link). */
  wrk(host: string, seconds: number, connections: number): Promise<WrkResult> {
    const args = ['netns', 'exec', this.lab.ns('inet'), 'wrk', '-t1', `-c${connections}`];
    args.push(`-d${seconds}s`, '-H', `Host: ${host}`, `http://127.0.0.1:${EDGE_HTTP}/`);
    return new Promise((resolve, reject) => {
      execFile('ip', args, { timeout: (seconds + 30) * 1000 }, (err, stdout, stderr) => {
        if (err) return reject(new Error(`wrk ${host}: ${err.message} ${stderr}`.trim()));
        try {
          resolve(parseWrk(stdout));
        } catch (e) {
          reject(new Error(`wrk ${host}: ${(e as Error).message}\n${stdout}`));
        }
      });
    });
  }

  /** CPU so far of both tunnel ends' wireguard-go processes (the VPS edge's and the connector's). */
  async wireguardCpu(): Promise<CpuSnapshot> {
    const pids: number[] = [];
    for (const h of ['inet', 'lan'] as const) {
      const { stdout } = await this.lab.exec(h, 'ip', ['netns', 'pids', this.lab.ns(h)]);
      for (const pid of stdout.split(/\s+/).filter(Boolean).map(Number)) {
        const comm = (() => {
          try {
            return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
          } catch {
            return '';
          }
        })();
        if (comm === 'wireguard-go') pids.push(pid);
      }
    }
    return cpuSnapshot(pids, false);
  }

  async close(): Promise<void> {
    await this.lab.destroy();
    await this.gh.close();
  }
}
