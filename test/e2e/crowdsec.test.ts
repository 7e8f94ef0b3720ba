import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCrowdsec, type Crowdsec } from '../helpers/crowdsec.js';
import type { TestGatehouse } from '../helpers/gatehouse.js';
import { startUi, type UiHarness } from '../helpers/ui.js';
import { startEdgeAgent } from '../helpers/edge.js';
import { echoBackend, freePort, http, until, type TestServer } from '../helpers/net.js';
import { testDir } from '../helpers/tmp.js';

interface CrowdsecView {
  enabled: boolean;
  status?: { connected: boolean; decisions: number; lastError?: string };
  decisions: { value: string; scope: string; type: string; scenario: string; origin: string }[];
}

/**
 * Gatehouse as a bouncer of a real CrowdSec (Debian's package, offline): decisions made in CrowdSec
 * are enforced inside nginx (fast-lane hosts and server blocks alike), and CrowdSec's agent reads
 * the access log nginx writes for it, so its scenarios ban what probes Gatehouse's routes.
 * Clients are loopback addresses: 127.0.0.1 is never decided against here; 127.0.0.99 is a
 * trusted proxy.
 */
describe('CrowdSec: decisions enforced at the edge, its agent reading the access log', () => {
  let ui: UiHarness;
  let t: TestGatehouse;
  let cs: Crowdsec;
  let app: TestServer;
  let dataDir: string;
  const PROXY = '127.0.0.99';
  const status = async (host: string, from: string, path = '/', headers: Record<string, string> = {}) =>
    (await t.get(host, path, { localAddress: from, headers })).status;
  const view = async () => (await t.api('GET', '/api/v1/crowdsec')).json as unknown as CrowdsecView;

  beforeAll(async () => {
    dataDir = await testDir('gh-crowdsec-data-');
    // CrowdSec's agent follows the log nginx will write (it must exist when the agent starts).
    const logFile = join(dataDir, 'nginx', 'logs', 'crowdsec.log');
    await mkdir(join(dataDir, 'nginx', 'logs'), { recursive: true });
    await writeFile(logFile, '');
    cs = await startCrowdsec({ logFile, banDuration: '25s' });
    app = await echoBackend('app');
    ui = await startUi({
      data_dir: dataDir,
      crowdsec_url: cs.url,
      crowdsec_api_key: cs.bouncerKey,
      crowdsec_poll_interval: '500ms',
      trusted_proxies: [PROXY],
    });
    t = ui.t;
    const up = [`127.0.0.1:${app.port}`];
    for (const [name, body] of [
      // One public "/" route: the fast lane.
      ['pub', { routes: [{ upstreams: up }] }],
      // A server block of its own: a route under /shop/ only (other paths are 404).
      ['shop', { routes: [{ path: '/shop/', upstreams: up }] }],
      ['guarded', { routes: [{ upstreams: up }], access: { login: true } }],
      ['status', { routes: [{ upstreams: up }], crowdsec: false }],
    ] as const) {
      const r = await t.api('PUT', `/api/v1/services/${name}?wait=true`, {
        hosts: [`${name}.cs.test`],
        ...body,
      });
      expect(r.status, r.body).toBe(201);
    }
  }, 120_000);
  afterAll(async () => {
    await ui?.close();
    await cs?.close();
    await app?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('enforces a range decided in CrowdSec within seconds, on every kind of route but an opted-out one', async () => {
    const IN = '127.0.0.70';
    expect(await status('pub.cs.test', IN)).toBe(200);
    const made = Date.now();
    await cs.cscli(['decisions', 'add', '--range', '127.0.0.64/28', '--duration', '2m', '--reason', 'test']);
    await until(async () => ((await status('pub.cs.test', IN)) === 403 ? true : undefined), 10_000, 100);
    const tookMs = Date.now() - made;
    expect(tookMs).toBeLessThan(10_000);
    expect(await status('shop.cs.test', IN, '/shop/')).toBe(403);
    // Refused before the gate asks who it is (no portal redirect).
    expect(await status('guarded.cs.test', IN)).toBe(403);
    expect(await status('status.cs.test', IN)).toBe(200);
    // Outside the range: served.
    expect(await status('pub.cs.test', '127.0.0.1')).toBe(200);
    expect(await status('pub.cs.test', '127.0.0.80')).toBe(200);
    const v = await view();
    expect(v.enabled).toBe(true);
    expect(v.status?.connected).toBe(true);
    expect(v.decisions).toContainEqual(
      expect.objectContaining({ value: '127.0.0.64/28', scope: 'Range', type: 'ban', origin: 'cscli' }),
    );

    // Lifted in CrowdSec: served again.
    await cs.cscli(['decisions', 'delete', '--range', '127.0.0.64/28']);
    await until(async () => ((await status('pub.cs.test', IN)) === 200 ? true : undefined), 10_000, 100);
    expect(await status('shop.cs.test', IN, '/shop/')).toBe(200);
  });

  it('bans an address that probes many paths (CrowdSec reading the access log), and lets it in at expiry', async () => {
    const PROBER = '127.0.0.50';
    expect(await status('pub.cs.test', PROBER)).toBe(200);
    const paths = ['/.env', '/wp-login.php', '/admin.php', '/phpmyadmin/', '/.git/config', '/backup.zip'];
    for (let i = 0; i < 20; i++)
      expect(await status('shop.cs.test', PROBER, `${paths[i % 6]}?n=${i}x${i}`)).toBe(404);
    for (let i = 0; i < 10; i++) await status('shop.cs.test', PROBER, `/probe-${i}`);
    await until(async () => ((await status('pub.cs.test', PROBER)) === 403 ? true : undefined), 20_000, 200);
    const decided = (await view()).decisions.find((d) => d.value === PROBER);
    expect(decided).toMatchObject({
      scope: 'Ip',
      type: 'ban',
      origin: 'crowdsec',
      scenario: 'crowdsecurity/http-probing',
    });
    // Every route of every service that did not opt out.
    expect(await status('shop.cs.test', PROBER, '/shop/')).toBe(403);
    expect(await status('status.cs.test', PROBER)).toBe(200);
    expect(await status('pub.cs.test', '127.0.0.1')).toBe(200);

    // Red team: from behind a trusted proxy the banned address is still refused; a banned client
    // naming another address in X-Forwarded-For is not believed.
    expect(await status('pub.cs.test', PROXY, '/', { 'x-forwarded-for': PROBER })).toBe(403);
    expect(await status('shop.cs.test', PROXY, '/shop/', { 'x-forwarded-for': PROBER })).toBe(403);
    expect(await status('pub.cs.test', PROBER, '/', { 'x-forwarded-for': '127.0.0.1' })).toBe(403);
    expect(await status('pub.cs.test', PROXY, '/', { 'x-forwarded-for': '127.0.0.1' })).toBe(200);

    // The ban lasts 25 s (this CrowdSec's profile): then the address is served again.
    await until(async () => ((await status('pub.cs.test', PROBER)) === 200 ? true : undefined), 45_000, 500);
    expect(await status('shop.cs.test', PROBER, '/shop/')).toBe(200);
  }, 90_000);

  it('shows the decisions on the dashboard, and a service opts out in the editor', async () => {
    const IN = '127.0.0.90';
    await cs.cscli(['decisions', 'add', '--ip', IN, '--duration', '5m', '--reason', 'ui test']);
    await until(async () => ((await status('pub.cs.test', IN)) === 403 ? true : undefined), 10_000, 100);
    const { page } = ui;
    await ui.signIn();
    const card = page.getByTestId('crowdsec');
    await card.getByText(/^Local API answers/).waitFor();
    await card.getByText(IN, { exact: true }).waitFor();
    expect(await card.textContent()).toMatch(/active decisions? enforced on every edge/);
    await ui.shot('crowdsec-dashboard');

    // The service editor: CrowdSec's bans apply unless unchecked.
    await page.goto(`${ui.base}/#/services/pub`);
    const box = page.getByLabel("CrowdSec's bans apply (when a Local API is set)", { exact: true });
    expect(await box.isChecked()).toBe(true);
    await box.uncheck();
    await ui.saveService();
    const rec = (await t.api('GET', '/api/v1/services/pub')).json as { service: { crowdsec?: boolean } };
    expect(rec.service.crowdsec).toBe(false);
    expect(await status('pub.cs.test', IN)).toBe(200);
    expect(await status('shop.cs.test', IN, '/shop/')).toBe(403);
    await cs.cscli(['decisions', 'delete', '--ip', IN]);
  }, 60_000);

  it('enforces the decisions at a remote edge too, which keeps them across its restart', async () => {
    const node = await t.api('POST', '/api/v1/nodes', { name: 'vps', role: 'public' });
    expect(node.status).toBe(201);
    const edgeDir = await testDir('gh-crowdsec-edge-');
    const httpPort = await freePort();
    const start = () =>
      startEdgeAgent({
        control: `http://127.0.0.1:${t.apiPort}`,
        token: String(node.json.token),
        dir: edgeDir,
        httpPort,
      });
    const at = async (from: string) =>
      // shop: pub opted out in the editor above.
      (await http(httpPort, 'shop.cs.test', '/shop/', { localAddress: from }).catch(() => ({ status: 0 })))
        .status;
    let edge = start();
    try {
      await until(async () => ((await at('127.0.0.1')) === 200 ? true : undefined), 20_000, 100);
      const FROM = '127.0.0.111';
      expect(await at(FROM)).toBe(200);
      const made = Date.now();
      await cs.cscli(['decisions', 'add', '--ip', FROM, '--duration', '5m', '--reason', 'edge test']);
      await until(async () => ((await at(FROM)) === 403 ? true : undefined), 10_000, 100);
      expect(Date.now() - made).toBeLessThan(10_000);
      expect(await at('127.0.0.1')).toBe(200);
      // A restarted edge (its nginx too) refuses at once: the list is on its disk.
      await edge.stop();
      edge = start();
      await until(async () => ((await at('127.0.0.1')) === 200 ? true : undefined), 20_000, 100);
      expect(await at(FROM)).toBe(403);
      await cs.cscli(['decisions', 'delete', '--ip', FROM]);
      await until(async () => ((await at(FROM)) === 200 ? true : undefined), 10_000, 100);
    } finally {
      await edge.stop();
      await rm(edgeDir, { recursive: true, force: true });
    }
  }, 90_000);

  it('refuses bad input naming the field, changing nothing', async () => {
    const r = await t.api('PUT', '/api/v1/services/bad?wait=true', {
      hosts: ['bad.cs.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
      crowdsec: 'no',
    });
    expect(r.status).toBe(400);
    expect(r.body).toContain('crowdsec');
    expect((await t.api('GET', '/api/v1/services/bad')).status).toBe(404);
    const q = await t.api('GET', '/api/v1/crowdsec?limit=0');
    expect(q.status).toBe(400);
    expect(q.body).toContain('limit');
  });
});
