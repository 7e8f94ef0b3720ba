import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SiteAdded, SiteList, VpnClientAdded, VpnClientList } from '../../src/api/views/index.js';
import { ADMIN_TOKEN, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { freePort, http, json, until } from '../helpers/net.js';
import { runCli } from '../helpers/netns.js';
import {
  requireSitePrerequisites,
  SiteLab,
  startConnector,
  buildControlPlaneEdge,
  startVpnClient,
  startVpsEdge,
  type ControlPlaneEdge,
} from '../helpers/site-lab.js';
import { testDir } from '../helpers/tmp.js';

type Site = SiteList['sites'][number];

/**
 * Issue 16, metrics and events of a tunnel: the VPS edge (an edge agent with --tunnel-port in the
 * "inet" namespace) probes the home site through the tunnel every 5 s and reports the latency and
 * its `wg show` figures to the control plane (this process). `site ls`, /metrics and the events
 * log show them; cutting the home link makes a "tunnel down" event, restoring it a "tunnel up".
 */
describe('tunnel metrics and events: a home site through a remote VPS edge', () => {
  let lab: SiteLab;
  let gh: TestGatehouse;
  let apiPort: number;
  const api = (method: string, path: string, body?: unknown) =>
    json(apiPort, method, path, body, { authorization: `Bearer ${ADMIN_TOKEN}` });
  const home = async (): Promise<Site | undefined> =>
    ((await api('GET', '/api/v1/sites')).json as unknown as SiteList).sites.find((s) => s.name === 'home');
  const metrics = async () =>
    (await http(apiPort, '127.0.0.1', '/metrics', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }))
      .body;
  const events = async (kind: string) =>
    (
      (await api('GET', `/api/v1/events?kind=${kind}`)).json as unknown as {
        events: { kind: string; detail: string; at: string }[];
      }
    ).events;
  const logs = () => `\nedge:\n${lab.tail('edge-inet.log')}\nsite:\n${lab.tail('site-home.log')}`;

  beforeAll(async () => {
    requireSitePrerequisites();
    lab = await SiteLab.create();
    apiPort = await freePort();
    gh = await startTestGatehouse({ api_listen: `0.0.0.0:${apiPort}` });
    const node = await api('POST', '/api/v1/nodes', { name: 'vps', role: 'public' });
    expect(node.status).toBe(201);
    startVpsEdge(lab, { apiPort, token: String(node.json.token), dir: await testDir('gh-tm-edge-') });
    const add = await api('POST', '/api/v1/sites', { name: 'home', subnets: ['192.168.77.0/24'] });
    expect(add.status, JSON.stringify(add.json)).toBe(201);
    const added = add.json as unknown as SiteAdded;
    // Before its connector dials: no tunnel figures.
    expect(added.site.tunnel).toEqual({
      up: false,
      latency_ms: null,
      handshake_age_s: null,
      rx_bytes: 0,
      tx_bytes: 0,
      edges: [],
    });
    await startConnector(lab, 'home', added.command, { control: `http://${lab.rootIp}:${apiPort}` });
  }, 90_000);

  afterAll(async () => {
    await lab?.destroy();
    await gh?.close();
  }, 30_000);

  it('site ls shows the latency the VPS edge measured, a recent handshake and bytes', async () => {
    const up = await until(
      async () => {
        const s = await home();
        return s?.tunnel.up && s.tunnel.latency_ms !== null && s.tunnel.rx_bytes > 0 ? s : undefined;
      },
      45_000,
      500,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}${logs()}`);
    });
    expect(up.tunnel.edges.map((e) => e.edge)).toEqual(['vps']);
    expect(up.tunnel.latency_ms).toBeGreaterThan(0);
    expect(up.tunnel.latency_ms).toBeLessThan(1000);
    expect(up.tunnel.handshake_age_s).toBeLessThan(180);

    const ls = await runCli([
      'site',
      'ls',
      '--json',
      '--api',
      `http://127.0.0.1:${apiPort}`,
      '--token',
      ADMIN_TOKEN,
    ]);
    expect(ls.status, ls.stderr).toBe(0);
    const listed = (JSON.parse(ls.stdout) as SiteList).sites.find((s) => s.name === 'home');
    expect(listed?.tunnel.latency_ms).toEqual(expect.any(Number));
    expect(listed?.tunnel.edges[0]?.last_handshake).not.toBeNull();
    const table = await runCli([
      'site',
      'ls',
      '--api',
      `http://127.0.0.1:${apiPort}`,
      '--token',
      ADMIN_TOKEN,
    ]);
    expect(table.stdout).toMatch(/LATENCY/);
    expect(table.stdout).toMatch(/home .* [0-9.]+ ms .* \d+s ago/);
  }, 60_000);

  it('/metrics has the tunnel series with the site and edge labels', async () => {
    const text = await metrics();
    expect(text).toContain('gatehouse_tunnel_up{site="home",edge="vps"} 1');
    expect(text).toMatch(/gatehouse_tunnel_latency_seconds\{site="home",edge="vps"\} [0-9.e-]+/);
    expect(text).toMatch(/gatehouse_tunnel_handshake_age_seconds\{site="home",edge="vps"\} \d/);
    expect(text).toMatch(/gatehouse_tunnel_bytes_total\{site="home",edge="vps",direction="rx"\} [1-9]/);
    expect(text).toMatch(/gatehouse_vpn_clients_online 0/);
    // The tunnel came up: told once, however many probes answered since.
    const ups = await until(async () => {
      const e = await events('tunnel_up');
      return e.length ? e : undefined;
    }, 15_000);
    expect(ups.map((e) => e.detail)).toEqual([expect.stringMatching(/^site home via vps \([0-9.]+ ms\)$/)]);
  }, 30_000);

  it('a VPN client of the remote edge: vpn client ls shows its handshake and bytes, /metrics counts it online', async () => {
    const add = await api('POST', '/api/v1/vpn/clients', { name: 'phone', policy: 'full' });
    expect(add.status, JSON.stringify(add.json)).toBe(201);
    const { client, config } = add.json as unknown as VpnClientAdded;
    // The device: WireGuard in the "nas" namespace (behind home's NAT), dialing the VPS edge.
    await startVpnClient(lab, 'nas', { config, address: client.address });
    const seen = await until(
      async () => {
        const l = (await api('GET', '/api/v1/vpn/clients')).json as unknown as VpnClientList;
        const c = l.clients.find((x) => x.name === 'phone');
        return c?.last_handshake && c.rx_bytes > 0 ? c : undefined;
      },
      30_000,
      500,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}${logs()}\nclient:\n${lab.tail('vpn-client.log')}`);
    });
    expect(Date.now() - Date.parse(seen.last_handshake ?? '')).toBeLessThan(60_000);
    const ls = await runCli([
      'vpn',
      'client',
      'ls',
      '--api',
      `http://127.0.0.1:${apiPort}`,
      '--token',
      ADMIN_TOKEN,
    ]);
    // Its handshake and bytes, as the remote edge reported them (not "never" / "0 B").
    expect(ls.stdout).toMatch(/^phone\s.*\sfull\s+\d{4}-\d\d-\d\dT\S+\s+[1-9]\d* B\s+[1-9]\d* B\s/m);
    const text = await until(
      async () => {
        const t = await metrics();
        return t.includes('gatehouse_vpn_clients_online 1') ? t : undefined;
      },
      10_000,
      250,
    );
    expect(text).toMatch(/gatehouse_tunnel_handshake_age_seconds\{client="phone"\} \d/);
    expect(text).toMatch(/gatehouse_tunnel_bytes_total\{client="phone",direction="rx"\} [1-9]/);
    const connected = await until(
      async () => {
        const e = await events('vpn_client_connected');
        return e.length ? e : undefined;
      },
      15_000,
      250,
    );
    expect(connected.map((e) => e.detail)).toEqual(['client phone']);
  }, 60_000);

  it('the home link cut: a "tunnel down" event and tunnel_up 0; restored: "tunnel up" again', async () => {
    await lab.cutHome();
    const t0 = performance.now();
    const down = await until(
      async () => {
        const e = await events('tunnel_down');
        return e.length ? e : undefined;
      },
      40_000,
      250,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}${logs()}`);
    });
    console.log(`tunnel: home link cut → "tunnel down" event in ${Math.round(performance.now() - t0)} ms`);
    expect(down.map((e) => e.detail)).toEqual(['site home via vps']);
    expect(await metrics()).toContain('gatehouse_tunnel_up{site="home",edge="vps"} 0');
    const s = await home();
    expect(s?.tunnel.up).toBe(false);
    expect(s?.tunnel.latency_ms).toBeNull();

    await lab.restoreHome();
    const ups = await until(
      async () => {
        const e = await events('tunnel_up');
        return e.length >= 2 ? e : undefined;
      },
      40_000,
      250,
    );
    expect(ups[0]?.detail).toMatch(/^site home via vps/);
    expect((await events('tunnel_down')).length).toBe(1);
    expect(await metrics()).toContain('gatehouse_tunnel_up{site="home",edge="vps"} 1');
  }, 100_000);
});

/** The control plane's own WireGuard server (`up --vpn-port`) probes its sites too, as the edge "local". */
describe('tunnel metrics: the control plane itself as the WireGuard server (vpn_port)', () => {
  let lab: SiteLab;
  let cp: ControlPlaneEdge;
  const API = 7070;
  const cli = (...args: string[]) => cp.cli(...args);

  beforeAll(async () => {
    cp = await buildControlPlaneEdge({ port: API });
    lab = cp.lab;
  }, 60_000);

  afterAll(async () => {
    await lab?.destroy();
  }, 30_000);

  it('site ls and /metrics show the latency the control plane measured (edge "local")', async () => {
    const add = await cli('site', 'add', 'home', '--subnet', '192.168.77.0/24', '--json');
    expect(add.status, add.stderr).toBe(0);
    await startConnector(lab, 'home', (JSON.parse(add.stdout) as SiteAdded).command, { control: cp.url });
    const site = await until(
      async () => {
        const r = await cli('site', 'ls', '--json');
        const s = (JSON.parse(r.stdout || '{"sites":[]}') as SiteList).sites[0];
        return s?.tunnel.up && s.tunnel.latency_ms !== null ? s : undefined;
      },
      45_000,
      500,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\nup:\n${lab.tail('up.log')}\nsite:\n${lab.tail('site-home.log')}`);
    });
    expect(site.tunnel.edges.map((e) => [e.edge, e.up])).toEqual([['local', true]]);
    expect(site.tunnel.handshake_age_s).toBeLessThan(180);
    const m = await http(API, '127.0.0.1', '/metrics', {
      address: lab.edgeIp,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(m.body).toContain('gatehouse_tunnel_up{site="home",edge="local"} 1');
    expect(m.body).toMatch(/gatehouse_tunnel_latency_seconds\{site="home",edge="local"\} [0-9.e-]+/);
  }, 60_000);
});
