import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, freePort, until, type TestServer } from '../helpers/net.js';
import { startUi, type UiHarness } from '../helpers/ui.js';

interface Failing {
  server: string;
  errors: number;
  lastStatus: string;
}
interface EdgeState {
  downServers: string[];
  checkedServers: string[];
  failingServers: Failing[];
}

/**
 * Passive health: nginx's own 502/504 answers (an upstream refusing, no active check configured)
 * reach the status API, the metrics and the dashboard; a service nobody checks is "not checked".
 */
describe('passive upstream health', () => {
  let ui: UiHarness;
  let t: TestGatehouse;
  let page: Page;
  let app: TestServer;
  let closedPort: number;

  const edge = async () => ((await t.api('GET', '/api/v1/status')).json as { edge: EdgeState }).edge;
  const put = async (name: string, upstreams: string[], extra: Record<string, unknown> = {}) => {
    const r = await t.api('PUT', `/api/v1/services/${name}?wait=true`, {
      hosts: [`${name}.test`],
      routes: [{ upstreams, ...extra }],
    });
    expect(r.status, JSON.stringify(r.json)).toBeLessThan(300);
  };

  beforeAll(async () => {
    ui = await startUi();
    t = ui.t;
    page = ui.page;
    app = await echoBackend('quiet');
    // Nothing listens here: nginx's connection is refused.
    closedPort = await freePort();
    // Fast lane (one upstream, public "/") and a server block with an upstream pool.
    await put('broken', [`127.0.0.1:${closedPort}`]);
    await put('broken-pool', [`127.0.0.1:${closedPort}`, `127.0.0.1:${await freePort()}`], {
      path: '/',
      strip_prefix: false,
      lb: 'least_conn',
    });
    await put('quiet', [`127.0.0.1:${app.port}`]);
    await put('busy', [`127.0.0.1:${app.port}`]);
  });
  afterAll(async () => {
    await ui?.close();
    await app?.close();
  });

  it('counts requests nginx could not pass to an upstream, and only those', async () => {
    for (let i = 0; i < 3; i++) expect((await t.get('broken.test')).status).toBe(503);
    for (let i = 0; i < 5; i++) expect((await t.get('busy.test')).status).toBe(200);
    const key = `broken-r0 127.0.0.1:${closedPort}`;
    const started = Date.now();
    const failing = await until(async () => {
      const f = (await edge()).failingServers.find((x) => x.server === key);
      return f && f.errors === 3 ? f : undefined;
    }, 3000);
    // Within about a second of the requests.
    expect(Date.now() - started).toBeLessThan(2000);
    expect(failing.lastStatus).toBe('502');
    const e = await edge();
    expect(e.failingServers.map((f) => f.server.split(' ')[0])).toEqual(['broken-r0']);
    expect(e.downServers).toEqual([]);
    const metrics = await t.api('GET', '/metrics');
    expect(metrics.body).toContain(
      `gatehouse_upstream_recent_errors{node="local",pool="broken-r0",server="127.0.0.1:${closedPort}"} 3`,
    );
  });

  it('names the pool and each server tried behind an upstream block', async () => {
    expect((await t.get('broken-pool.test')).status).toBe(503);
    await until(async () => {
      const f = (await edge()).failingServers.filter((x) => x.server.startsWith('broken-pool-r0 '));
      return f.length === 2 ? f : undefined;
    }, 3000);
  });

  it('shows the failing service on the dashboard and the unchecked one as not checked', async () => {
    await ui.signIn();
    const card = page.getByTestId('count-services');
    await card.getByText(/2 failing/).waitFor();
    await expect(card.textContent()).resolves.toContain('2 failing, 2 not checked');
    await expect(card.textContent()).resolves.not.toContain('healthy');
    const item = page
      .getByTestId('failing-list')
      .locator('li', { hasText: `broken-r0 127.0.0.1:${closedPort}` });
    await expect(item.textContent()).resolves.toMatch(/failing \(3 errors in the last minute; last refused/);
    await ui.shot('dashboard-failing');
    // A request more shows without reloading the page.
    await t.get('broken.test');
    await item.getByText(/failing \(4 errors in the last minute/).waitFor();
    await page.goto(ui.base + '/#/services');
    const row = (name: string) =>
      page.getByTestId('services').locator('tr', { has: page.getByRole('link', { name, exact: true }) });
    await expect(row('quiet').getByTestId('health').textContent()).resolves.toBe('not checked');
    await expect(row('broken').getByTestId('health').textContent()).resolves.toBe('failing (4 errors)');
    await ui.shot('services-health');
  });

  it('counts a failed attempt the next peer made good (the client saw 200)', async () => {
    const dead = await freePort();
    await put('half', [`127.0.0.1:${dead}`, `127.0.0.1:${app.port}`]);
    // Round robin: some of these try the dead peer first, then the live one.
    for (let i = 0; i < 4; i++) expect((await t.get('half.test')).status).toBe(200);
    const f = await until(async () => {
      const x = (await edge()).failingServers.find((s) => s.server === `half-r0 127.0.0.1:${dead}`);
      return x && x.errors >= 1 ? x : undefined;
    }, 3000);
    expect(f.lastStatus).toBe('502');
    const e = await edge();
    expect(e.failingServers.map((s) => s.server)).not.toContain(`half-r0 127.0.0.1:${app.port}`);
  });
});
