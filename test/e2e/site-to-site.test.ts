import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SiteList } from '../../src/api/views/index.js';
import { ADMIN_TOKEN } from '../helpers/gatehouse.js';
import { until } from '../helpers/net.js';
import { runCli, sleep } from '../helpers/netns.js';
import { buildHomeLab, HomeLab } from '../helpers/home-lab.js';
import { HOMES, WG_PORT, type Home } from '../helpers/site-lab.js';

/** One GET from a LAN host; prints `STATUS BODY` (status 0 and the error code on no answer). */
const GET = `const [host, ms] = process.argv.slice(1);
const req = require('http').get({ host, port: 8080, path: '/', timeout: Number(ms), agent: false }, (r) => {
  let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => console.log(r.statusCode + ' ' + b));
});
req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
req.on('error', (e) => console.log('0 ' + (e.code || e.message)));`;

/** A new GET every 200 ms (each bounded to 1.5 s); a line per answer: `START END STATUS`. */
const PROBER = `const [host] = process.argv.slice(1);
setInterval(() => {
  const t0 = Date.now();
  const out = (s) => console.log(t0 + ' ' + Date.now() + ' ' + s);
  const req = require('http').get({ host, port: 8080, path: '/', timeout: 1500, agent: false }, (r) => {
    r.resume(); r.on('end', () => out(r.statusCode));
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', () => out(0));
}, 200);`;

/**
 * Issue 16, site-to-site (CharlieHub): two homes behind NAT, each with a LAN service, and two VPS
 * edges as hubs (vps1 the primary: the first by name). A host on home A's LAN reaches home B's LAN
 * service through the primary hub; the primary goes down (every process in its namespace killed)
 * → the connectors move the other site's subnet to the fallback hub and A reaches B again within
 * 10 s; the primary comes back → they return to it. A site with site-to-site off is reached by no
 * other site.
 */
describe('site-to-site: two homes reach each other through a primary and a fallback hub', () => {
  let hl: HomeLab;
  const lanIp = (h: Home) => `${HOMES[h].net}.20`;
  /** From home `from`'s NAS (a LAN host, routed by its home router to the connector) to the other home's NAS. */
  const get = async (from: Home, timeoutMs = 1500) => {
    const to: Home = from === 'home' ? 'home2' : 'home';
    const r = await hl.lab.exec(HOMES[from].nas, process.execPath, ['-e', GET, lanIp(to), String(timeoutMs)]);
    const [status, ...body] = r.stdout.trim().split(' ');
    return { status: Number(status), body: body.join(' ') };
  };
  const reaches = (from: Home, ms: number) =>
    until(async () => ((await get(from)).status === 200 ? true : undefined), ms, 200).catch(
      (err: unknown) => {
        throw new Error(`${from}: ${String(err)}\n${hl.logs()}`);
      },
    );
  /** Which edge carries the other site's subnet on a home's connector: vps1 (inet), vps2 (inet2) or none. */
  const hubOf = async (home: Home, subnet: string): Promise<string> => {
    const iface = HomeLab.siteIface(home);
    const ends = (await hl.lab.exec(HOMES[home].lan, 'wg', ['show', iface, 'endpoints'])).stdout;
    const ips = (await hl.lab.exec(HOMES[home].lan, 'wg', ['show', iface, 'allowed-ips'])).stdout;
    const key = ips
      .split('\n')
      .find((l) => l.includes(subnet))
      ?.split(/\s+/)[0];
    const endpoint = ends.split('\n').find((l) => key && l.startsWith(key)) ?? '';
    if (endpoint.includes(`${hl.lab.vpsWan}:${WG_PORT}`)) return 'vps1';
    if (endpoint.includes(`${hl.lab.vps2Wan}:${WG_PORT}`)) return 'vps2';
    return key ? `? ${endpoint}` : 'none';
  };
  const cli = (...args: string[]) =>
    runCli([...args, '--api', `http://127.0.0.1:${hl.apiPort}`, '--token', ADMIN_TOKEN]);

  beforeAll(async () => {
    hl = await buildHomeLab({ edges: 2, homes: 2, nasBody: (h) => `nas of ${h}` });
    // Each home router sends the other home's block to its connector (what an operator sets up).
    await hl.lab.exec('home', 'ip', ['route', 'add', HOMES.home2.subnet, 'via', `${HOMES.home.net}.10`]);
    await hl.lab.exec('home2', 'ip', ['route', 'add', HOMES.home.subnet, 'via', `${HOMES.home2.net}.10`]);
  }, 120_000);

  afterAll(async () => {
    await hl?.close();
  }, 30_000);

  it('bad input is refused with 4xx naming the field', async () => {
    const cases: [string, string, unknown, number, string][] = [
      ['POST', '/api/v1/sites', { name: 'x', site_to_site: 'yes' }, 400, 'site_to_site'],
      ['PATCH', '/api/v1/sites/nope', { site_to_site: true }, 404, 'name'],
      ['PATCH', '/api/v1/sites/Bad%20Name', { site_to_site: true }, 400, 'name'],
      ['PATCH', '/api/v1/sites/nope', { site_to_site: 1 }, 400, 'site_to_site'],
      ['PATCH', '/api/v1/sites/nope', { site_to_site: true, subnets: [] }, 400, 'subnets'],
    ];
    for (const [method, path, body, status, field] of cases) {
      const r = await hl.api(method, path, body);
      expect(r.status, `${method} ${path} ${JSON.stringify(r.json)}`).toBe(status);
      expect(JSON.stringify(r.json)).toContain(field);
    }
    const maybe = await cli('site', 'set', 'nope', '--site-to-site', 'maybe');
    expect(maybe.status).not.toBe(0);
    expect(maybe.stderr).toContain('site_to_site');
    const unknown = await cli('site', 'set', 'nope', '--site-to-site', 'on');
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toContain('site nope not found');
  });

  it('with --site-to-site on both, a host on home A reaches home B’s LAN service through the primary hub', async () => {
    const a = await cli('site', 'add', 'a', '--subnet', HOMES.home.subnet, '--site-to-site', '--json');
    expect(a.status, a.stderr).toBe(0);
    const b = await hl.addSite('b', { subnets: [HOMES.home2.subnet], site_to_site: true });
    const aCommand = (JSON.parse(a.stdout) as { command: string }).command.replace(
      `http://127.0.0.1:${hl.apiPort}`,
      hl.control,
    );
    await hl.connect('home', aCommand);
    await hl.connect('home2', b.command);
    await reaches('home', 45_000);
    expect(await get('home')).toEqual({ status: 200, body: 'nas of home2' });
    expect(await get('home2')).toEqual({ status: 200, body: 'nas of home' });
    expect(await hubOf('home', HOMES.home2.subnet)).toBe('vps1');
    expect(await hubOf('home2', HOMES.home.subnet)).toBe('vps1');
    const ls = await cli('site', 'ls');
    expect(ls.stdout).toMatch(/^a\s+192\.168\.77\.0\/24\s+\S+\s+\S+\s+on\b/m);
  }, 90_000);

  it('the primary hub goes down: A reaches B through the fallback within 10 s; the primary back, they return to it', async () => {
    const probe = hl.lab.spawn(HOMES.home.nas, process.execPath, ['-e', PROBER, lanIp('home2')], 'probe.log');
    const lines = () =>
      hl.lab
        .tail('probe.log', 100_000)
        .split('\n')
        .map((l) => l.split(' ').map(Number))
        .filter((l) => l.length === 3) as [number, number, number][];
    await until(() => (lines().some((l) => l[2] === 200) ? true : undefined), 10_000, 100);
    // Counted from the moment every process of the primary is gone.
    await hl.lab.killHost('inet');
    const killedAt = Date.now();
    const back = await until(
      () => lines().find(([start, , status]) => start > killedAt && status === 200),
      30_000,
      100,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${hl.logs()}`);
    });
    const switchMs = back[1] - killedAt;
    const failed = lines().filter(([start, , s]) => start > killedAt && s !== 200).length;
    console.log(
      `site-to-site: primary hub down → A reaches B through the fallback ${switchMs} ms later (${failed} requests failed meanwhile)`,
    );
    expect(switchMs).toBeLessThanOrEqual(10_000);
    await until(
      async () => ((await hubOf('home', HOMES.home2.subnet)) === 'vps2' ? true : undefined),
      10_000,
      200,
    );
    await until(
      async () => ((await hubOf('home2', HOMES.home.subnet)) === 'vps2' ? true : undefined),
      10_000,
      200,
    );
    expect(await get('home2')).toEqual({ status: 200, body: 'nas of home' });

    // The primary comes back (its agent restarted on the same key): both connectors return to it.
    hl.startEdge('inet');
    const t0 = Date.now();
    for (const [home, subnet] of [
      ['home', HOMES.home2.subnet],
      ['home2', HOMES.home.subnet],
    ] as const)
      await until(async () => ((await hubOf(home, subnet)) === 'vps1' ? true : undefined), 60_000, 250).catch(
        (err: unknown) => {
          throw new Error(`${home}: ${String(err)}\n${hl.logs()}`);
        },
      );
    console.log(
      `site-to-site: primary's agent restarted → both connectors back on it ${Date.now() - t0} ms later`,
    );
    await sleep(1000);
    const since = Date.now();
    await sleep(3000);
    probe.kill('SIGTERM');
    const after = lines().filter(([start]) => start > since);
    expect(after.length).toBeGreaterThan(5);
    expect(after.filter(([, , s]) => s !== 200)).toEqual([]);
    expect(await get('home')).toEqual({ status: 200, body: 'nas of home2' });
  }, 150_000);

  it('a site with site-to-site off is reached by no other site, and reaches none', async () => {
    const off = await cli('site', 'set', 'b', '--site-to-site', 'off');
    expect(off.status, off.stderr).toBe(0);
    expect(off.stdout).toContain('site b: site-to-site off');
    await until(async () => ((await get('home', 1000)).status !== 200 ? true : undefined), 20_000, 250);
    await until(
      async () => ((await hubOf('home', HOMES.home2.subnet)) === 'none' ? true : undefined),
      15_000,
      250,
    );
    const fromA = await get('home', 2000);
    expect(fromA.status).toBe(0);
    const fromB = await get('home2', 2000);
    expect(fromB.status).toBe(0);
    // The hubs forward between site-to-site subnets only: b's is no longer among them.
    const table = `gatehouse_s2s_${HomeLab.edgeIface('inet2')}`;
    let last = '';
    const rules = await until(
      async () => {
        const r = (last = (await hl.lab.exec('inet2', 'nft', ['list', 'table', 'ip', table])).stdout);
        return /ip saddr 192\.168\.77\.0\/24 ip daddr 192\.168\.77\.0\/24 accept/.test(r) ? r : undefined;
      },
      10_000,
      250,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${last}\n${hl.logs()}`);
    });
    // Traffic between any other sites' subnets (nft merges the two /24s into one range) is dropped.
    expect(rules).toMatch(
      /ip daddr \{ 192\.168\.77\.0-192\.168\.78\.255 \} ip saddr \{ 192\.168\.77\.0-192\.168\.78\.255 \} drop/,
    );
    const list = (await hl.api('GET', '/api/v1/sites')).json as unknown as SiteList;
    expect(list.sites.map((s) => [s.name, s.site_to_site])).toEqual([
      ['a', true],
      ['b', false],
    ]);
  }, 60_000);
});
