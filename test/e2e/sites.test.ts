import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SiteAdded, SiteList } from '../../src/api/views/index.js';
import { ADMIN_TOKEN } from '../helpers/gatehouse.js';
import { http, until } from '../helpers/net.js';
import { buildHomeLab, type HomeLab } from '../helpers/home-lab.js';
import { runCli } from '../helpers/netns.js';
import {
  backendScript,
  EDGE_HTTP,
  SiteLab,
  startConnector,
  buildControlPlaneEdge,
  type ControlPlaneEdge,
} from '../helpers/site-lab.js';

const HOST = 'app.home.test';
/** How long the home link stays cut (the figure is 60 s: GATEHOUSE_SITE_OUTAGE_MS=60000). */
const OUTAGE_MS = Number(process.env.GATEHOUSE_SITE_OUTAGE_MS ?? 5000);

/**
 * Issue 16, sites: a home behind NAT publishes a LAN service through a public VPS edge over
 * WireGuard (userspace wireguard-go). The control plane runs in this process; the VPS edge is an
 * edge agent with --tunnel-port in the "inet" namespace; the site's connector runs on a LAN machine
 * behind the home router's masquerade; the service runs on another LAN machine nothing outside the
 * home routes to.
 */
describe('sites: a home service behind NAT, through the VPS edge', () => {
  let hl: HomeLab;
  let lab: SiteLab;
  let apiPort: number;
  const api = (method: string, path: string, body?: unknown) => hl.api(method, path, body);
  const viaEdge = (timeoutMs = 2000) => hl.via('inet', HOST, timeoutMs);

  beforeAll(async () => {
    hl = await buildHomeLab({ services: { homeapp: { host: HOST, upstream: '192.168.77.20:8080' } } });
    lab = hl.lab;
    apiPort = hl.apiPort;
  }, 90_000);

  afterAll(async () => {
    await hl?.close();
  }, 30_000);

  it('bad input is refused with 4xx naming the field', async () => {
    const cases: [unknown, number, string][] = [
      [{ name: 'x', subnets: ['192.168.1.0/33'] }, 400, 'subnets.0'],
      [{ name: 'x', subnets: ['10.0.0.0/8', '10.9.0.0/16'] }, 400, 'subnets.1'],
      [{ name: 'x', subnets: ['100.96.0.0/16'] }, 409, 'subnets.0'],
      [{ name: 'Bad Name' }, 400, 'name'],
      [{ name: 'x', subnet: ['10.0.0.0/8'] }, 400, 'subnet'],
    ];
    for (const [body, status, field] of cases) {
      const r = await api('POST', '/api/v1/sites', body);
      expect(r.status, JSON.stringify(r.json)).toBe(status);
      expect(JSON.stringify(r.json)).toContain(field);
    }
    const bad = await runCli([
      'site',
      'add',
      'y',
      '--subnet',
      'nope',
      '--api',
      `http://127.0.0.1:${apiPort}`,
      '--token',
      ADMIN_TOKEN,
    ]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/subnets\.0: not an IPv4 CIDR block/);
  });

  it('site add prints the command; the connector behind NAT brings the home service up through the VPS edge', async () => {
    const add = await runCli([
      'site',
      'add',
      'home',
      '--subnet',
      '192.168.77.0/24',
      '--api',
      `http://${lab.rootIp}:${apiPort}`,
      '--token',
      ADMIN_TOKEN,
      '--json',
    ]);
    expect(add.status, add.stderr).toBe(0);
    const added = JSON.parse(add.stdout) as SiteAdded;
    expect(added.site).toMatchObject({ name: 'home', subnets: ['192.168.77.0/24'], public_key: '' });
    expect(added.command).toMatch(
      /^gatehouse site connect --control http:\/\/10\.214\.\d+\.1:\d+ --site-token \S+ home$/,
    );
    const dup = await api('POST', '/api/v1/sites', { name: 'home' });
    expect(dup.status).toBe(409);
    expect(JSON.stringify(dup.json)).toContain('"field":"name"');
    const clash = await api('POST', '/api/v1/sites', { name: 'other', subnets: ['192.168.77.128/25'] });
    expect(clash.status).toBe(409);
    expect(JSON.stringify(clash.json)).toContain('overlaps 192.168.77.0/24 of site home');

    // Not reachable from the VPS before the tunnel: nothing routes the home LAN there.
    expect((await viaEdge()).status).not.toBe(200);

    await hl.connect('home', added.command);
    const t0 = performance.now();
    const ok = await until(
      async () => {
        const r = await viaEdge();
        return r.status === 200 ? r : undefined;
      },
      30_000,
      200,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${hl.logs()}`);
    });
    console.log(
      `sites: first 200 through the tunnel ${Math.round(performance.now() - t0)} ms after the connector started`,
    );
    expect(ok.body).toBe('hello from the nas');
    const list = (await api('GET', '/api/v1/sites')).json as unknown as SiteList;
    expect(list.sites[0]).toMatchObject({ name: 'home', address: '100.96.0.2' });
    expect(list.sites[0]?.public_key).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    const connected = await until(
      async () => {
        const l = (await api('GET', '/api/v1/sites')).json as unknown as SiteList;
        return l.sites[0]?.connected ? l : undefined;
      },
      15_000,
      250,
    );
    expect(connected.sites[0]?.last_handshake).not.toBeNull();
  }, 60_000);

  it(
    `the home link cut for ${OUTAGE_MS / 1000} s and restored: traffic flows again within 5 s, without a restart`,
    async () => {
      expect((await viaEdge()).status).toBe(200);
      await lab.cutHome();
      const down = await viaEdge(1500);
      expect(down.status).not.toBe(200);
      await new Promise((r) => setTimeout(r, OUTAGE_MS));
      await lab.restoreHome();
      const t0 = performance.now();
      await until(async () => ((await viaEdge(1000)).status === 200 ? true : undefined), 15_000, 100);
      const ms = Math.round(performance.now() - t0);
      console.log(`sites: home link restored → first 200 through the tunnel in ${ms} ms`);
      expect(ms).toBeLessThan(5000);
    },
    OUTAGE_MS + 60_000,
  );

  it('site rm: the edge drops the peer and its route; add and rm are audited', async () => {
    const rm = await runCli([
      'site',
      'rm',
      'home',
      '--api',
      `http://127.0.0.1:${apiPort}`,
      '--token',
      ADMIN_TOKEN,
    ]);
    expect(rm.status, rm.stderr).toBe(0);
    await until(async () => ((await viaEdge(1000)).status !== 200 ? true : undefined), 10_000, 200);
    const { stdout } = await lab.exec('inet', 'ip', ['-4', 'route', 'show']);
    expect(stdout).not.toContain('192.168.77.0/24');
    // Audited like every other change: who added and removed the site.
    const audit = (await api('GET', '/api/v1/audit')).json as unknown as {
      entries: { method: string; path: string; status: number }[];
    };
    const seen = audit.entries.map((e) => `${e.method} ${e.path} ${e.status}`);
    expect(seen).toContain('POST /api/v1/sites 201');
    expect(seen).toContain('DELETE /api/v1/sites/home 200');
  }, 30_000);
});

/**
 * One VPS running the control plane itself (`gatehouse up --vpn-port`): its own nginx is the public
 * edge, and its own WireGuard server takes the site's connector.
 */
describe('sites: the control plane itself as the public edge (vpn_port)', () => {
  let lab: SiteLab;
  let cp: ControlPlaneEdge;
  const API = 7070;
  const cli = (...args: string[]) => cp.cli(...args);

  beforeAll(async () => {
    cp = await buildControlPlaneEdge({ port: API, args: ['--register-listen', '127.0.0.1:9876'] });
    lab = cp.lab;
    lab.spawn(
      'nas',
      process.execPath,
      ['-e', backendScript('192.168.77.20', 8080, 'nas via the control plane')],
      'nas.log',
    );
  }, 60_000);

  afterAll(async () => {
    await lab?.destroy();
  }, 30_000);

  it('a site connects to the control plane’s own WireGuard server; its LAN service answers through its nginx', async () => {
    const svc = await cli(
      'service',
      'add',
      ...['--name', 'homeapp', '--host', HOST, '--upstream', '192.168.77.20:8080'],
    );
    expect(svc.status, svc.stderr).toBe(0);
    const add = await cli('site', 'add', 'home', '--subnet', '192.168.77.0/24', '--json');
    expect(add.status, add.stderr).toBe(0);
    const added = JSON.parse(add.stdout) as SiteAdded;
    await startConnector(lab, 'home', added.command);
    const t0 = performance.now();
    const ok = await until(
      async () => {
        const r = await http(EDGE_HTTP, HOST, '/', { address: lab.edgeIp, timeoutMs: 2000 }).catch(
          () => undefined,
        );
        return r?.status === 200 ? r : undefined;
      },
      30_000,
      200,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\nup:\n${lab.tail('up.log')}\nsite:\n${lab.tail('site-home.log')}`);
    });
    console.log(
      `sites (vpn_port): first 200 ${Math.round(performance.now() - t0)} ms after the connector started`,
    );
    expect(ok.body).toBe('nas via the control plane');
    // The connector reports its handshake with its next sync (every 5 s).
    const ls = await until(
      async () => {
        const r = await cli('site', 'ls');
        return /\sconnected\s/.test(r.stdout) ? r : undefined;
      },
      15_000,
      500,
    );
    expect(ls.stdout).toMatch(/home\s+192\.168\.77\.0\/24\s+100\.96\.0\.2\s+connected/);
  }, 60_000);
});
