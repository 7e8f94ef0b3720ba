import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SiteAdded } from '../../src/api/views/index.js';
import { ADMIN_TOKEN, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { freePort, http, json, until } from '../helpers/net.js';
import { GATEHOUSE_BIN } from '../helpers/netns.js';
import { requireSitePrerequisites, SiteLab } from '../helpers/site-lab.js';
import { testDir } from '../helpers/tmp.js';

const EDGE_HTTP = 8080;
const WG_PORT = 51820;
const HOST = 'app.home.test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Issue 16: a site with two public edges fails over between them. Two VPS namespaces (inet, inet2),
 * each an edge agent with a WireGuard server; the home's connector dials both. One VPS goes down
 * (every process in its namespace killed: agent, nginx, wireguard-go) → the home service still
 * answers through the other VPS's nginx; the VPS comes back (its agent restarted on the same
 * directory) → it answers again, and the same holds the other way round.
 */
describe('sites: a site with two public edges fails over between them', () => {
  let lab: SiteLab;
  let gh: TestGatehouse;
  let apiPort: number;
  const edges = {
    inet: { token: '', dir: '' },
    inet2: { token: '', dir: '' },
  };
  const api = (method: string, path: string, body?: unknown) =>
    json(apiPort, method, path, body, { authorization: `Bearer ${ADMIN_TOKEN}` });
  const via = (edge: 'inet' | 'inet2', timeoutMs = 2000) =>
    http(EDGE_HTTP, HOST, '/', {
      address: edge === 'inet' ? lab.edgeIp : lab.edge2Ip,
      timeoutMs,
    }).catch((e: unknown) => ({ status: 0, body: String(e) }));
  const logs = () =>
    ['edge-inet.log', 'edge-inet2.log', 'site.log'].map((l) => `${l}:\n${lab.tail(l)}`).join('\n');
  const answers = (edge: 'inet' | 'inet2', ms: number) =>
    until(async () => ((await via(edge, 1000)).status === 200 ? true : undefined), ms, 100).catch(
      (err: unknown) => {
        throw new Error(`${edge}: ${String(err)}\n${logs()}`);
      },
    );

  const startEdge = (edge: 'inet' | 'inet2') => {
    const wan = edge === 'inet' ? lab.vpsWan : lab.vps2Wan;
    lab.spawn(
      edge,
      process.execPath,
      [
        GATEHOUSE_BIN,
        'edge',
        ...['--control', `http://${edge === 'inet' ? lab.rootIp : '10.215.' + lab.n + '.1'}:${apiPort}`],
        ...['--insecure-control', '--node-token', edges[edge].token],
        ...['--edge-dir', edges[edge].dir, '--edge-http-port', String(EDGE_HTTP)],
        ...['--edge-https-port', '0', '--log-level', 'info'],
        ...['--tunnel-port', String(WG_PORT), '--tunnel-endpoint', `${wan}:${WG_PORT}`],
        // Distinct names: wireguard-go's control socket (/var/run/wireguard/NAME.sock) is per
        // machine, and these namespaces share one filesystem.
        ...['--tunnel-interface', `${edge === 'inet' ? 'ghe' : 'ghf'}${process.pid}`.slice(0, 15)],
      ],
      `edge-${edge}.log`,
    );
  };

  /** Every request through `edge` for `ms` answers 200 from the NAS. */
  const steady = async (edge: 'inet' | 'inet2', ms: number) => {
    const seen: number[] = [];
    const t0 = Date.now();
    while (Date.now() - t0 < ms) {
      const r = await via(edge, 1000);
      seen.push(r.status);
      if (r.status === 200) expect(r.body).toBe('hello from the nas');
      await sleep(100);
    }
    expect(seen.length).toBeGreaterThan(5);
    expect(seen.filter((s) => s !== 200)).toEqual([]);
  };

  beforeAll(async () => {
    requireSitePrerequisites();
    lab = await SiteLab.create();
    await lab.addSecondEdge();
    apiPort = await freePort();
    gh = await startTestGatehouse({ api_listen: `0.0.0.0:${apiPort}` });
    lab.spawn(
      'nas',
      process.execPath,
      ['-e', "require('http').createServer((q,s)=>s.end('hello from the nas')).listen(8080,'192.168.77.20')"],
      'nas.log',
    );
    for (const [edge, name] of [
      ['inet', 'vps1'],
      ['inet2', 'vps2'],
    ] as const) {
      const node = await api('POST', '/api/v1/nodes', { name, role: 'public' });
      expect(node.status).toBe(201);
      edges[edge] = { token: String(node.json.token), dir: await testDir(`gh-site-${edge}-`) };
      startEdge(edge);
    }
    const put = await api('PUT', '/api/v1/services/homeapp', {
      hosts: [HOST],
      routes: [{ upstreams: ['192.168.77.20:8080'] }],
    });
    expect(put.status, JSON.stringify(put.json)).toBe(201);
  }, 90_000);

  afterAll(async () => {
    await lab?.destroy();
    await gh?.close();
  }, 30_000);

  it('the connector dials both public edges; the home service answers through each', async () => {
    const add = await api('POST', '/api/v1/sites', { name: 'home', subnets: ['192.168.77.0/24'] });
    expect(add.status, JSON.stringify(add.json)).toBe(201);
    // The API leaves the control plane's URL to the caller (the CLI fills in its --api).
    const args = (add.json as unknown as SiteAdded).command
      .replace("<this API's URL>", `http://${lab.rootIp}:${apiPort}`)
      .replace(/^gatehouse /, '')
      .split(' ');
    lab.spawn(
      'lan',
      process.execPath,
      [
        GATEHOUSE_BIN,
        ...args,
        ...['--insecure-control', '--site-dir', await testDir('gh-site-home-')],
        ...['--interface', `ghs${process.pid}`.slice(0, 15), '--log-level', 'info'],
      ],
      'site.log',
    );
    await answers('inet', 30_000);
    await answers('inet2', 30_000);
    // Two peers on the connector's interface, each with a handshake.
    const hs = await lab.exec('lan', 'wg', ['show', `ghs${process.pid}`.slice(0, 15), 'latest-handshakes']);
    const lines = hs.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(Number(l.split(/\s+/)[1])).toBeGreaterThan(0);
  }, 60_000);

  it('the first VPS goes down: the home service keeps answering through the second; it comes back', async () => {
    await lab.killHost('inet');
    expect((await via('inet', 1000)).status).not.toBe(200);
    await steady('inet2', 5000);
    // Still down after the keepalives and the connector's syncs have run a while: no effect on inet2.
    await steady('inet2', 5000);
    expect((await via('inet', 1000)).status).not.toBe(200);
    startEdge('inet');
    const t0 = performance.now();
    await answers('inet', 30_000);
    console.log(
      `sites failover: VPS 1's agent restarted → first 200 through it in ${Math.round(performance.now() - t0)} ms`,
    );
    await steady('inet2', 1000);
  }, 90_000);

  it('and the other way round: the second VPS goes down, the first serves; the second comes back', async () => {
    await lab.killHost('inet2');
    expect((await via('inet2', 1000)).status).not.toBe(200);
    await steady('inet', 5000);
    startEdge('inet2');
    await answers('inet2', 30_000);
    await steady('inet', 1000);
    await steady('inet2', 1000);
  }, 90_000);
});
