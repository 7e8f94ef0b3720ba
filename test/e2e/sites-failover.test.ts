import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/net.js';
import { buildHomeLab, HomeLab } from '../helpers/home-lab.js';
import type { Vps } from '../helpers/site-lab.js';

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
  let hl: HomeLab;
  const via = (edge: Vps, timeoutMs = 2000) => hl.via(edge, HOST, timeoutMs);
  const answers = (edge: Vps, ms: number) =>
    until(async () => ((await via(edge, 1000)).status === 200 ? true : undefined), ms, 100).catch(
      (err: unknown) => {
        throw new Error(`${edge}: ${String(err)}\n${hl.logs()}`);
      },
    );

  /** Every request through `edge` for `ms` answers 200 from the NAS. */
  const steady = async (edge: Vps, ms: number) => {
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
    hl = await buildHomeLab({
      edges: 2,
      services: { homeapp: { host: HOST, upstream: '192.168.77.20:8080' } },
    });
  }, 90_000);

  afterAll(async () => {
    await hl?.close();
  }, 30_000);

  it('the connector dials both public edges; the home service answers through each', async () => {
    const added = await hl.addSite('home', { subnets: ['192.168.77.0/24'] });
    await hl.connect('home', added.command);
    await answers('inet', 30_000);
    await answers('inet2', 30_000);
    // Two peers on the connector's interface, each with a handshake.
    const hs = await hl.lab.exec('lan', 'wg', ['show', HomeLab.siteIface('home'), 'latest-handshakes']);
    const lines = hs.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(Number(l.split(/\s+/)[1])).toBeGreaterThan(0);
  }, 60_000);

  it('the first VPS goes down: the home service keeps answering through the second; it comes back', async () => {
    await hl.lab.killHost('inet');
    expect((await via('inet', 1000)).status).not.toBe(200);
    await steady('inet2', 5000);
    // Still down after the keepalives and the connector's syncs have run a while: no effect on inet2.
    await steady('inet2', 5000);
    expect((await via('inet', 1000)).status).not.toBe(200);
    hl.startEdge('inet');
    const t0 = performance.now();
    await answers('inet', 30_000);
    console.log(
      `sites failover: VPS 1's agent restarted → first 200 through it in ${Math.round(performance.now() - t0)} ms`,
    );
    await steady('inet2', 1000);
  }, 90_000);

  it('and the other way round: the second VPS goes down, the first serves; the second comes back', async () => {
    await hl.lab.killHost('inet2');
    expect((await via('inet2', 1000)).status).not.toBe(200);
    await steady('inet', 5000);
    hl.startEdge('inet2');
    await answers('inet2', 30_000);
    await steady('inet', 1000);
    await steady('inet2', 1000);
  }, 90_000);
});
