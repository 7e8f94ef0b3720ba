import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessLogRecord } from '../../src/model/access-log.js';
import type { TestGatehouse } from '../helpers/gatehouse.js';
import { until } from '../helpers/net.js';
import { startUi, type UiHarness } from '../helpers/ui.js';

/** One access log record as an edge's reader hands it to the store. */
function rec(over: Partial<AccessLogRecord>): AccessLogRecord {
  return {
    time: Date.now() - 5 * 60_000,
    node: 'local',
    host: 'shop.gw.test',
    service: 'shop',
    route: '/',
    method: 'GET',
    path: '/',
    status: 200,
    duration_ms: 10,
    upstream: '127.0.0.1:9',
    upstream_ms: 9,
    bytes_in: 200,
    bytes_out: 900,
    client: '192.0.2.10',
    user: null,
    country: null,
    ...over,
  };
}

/**
 * The Logs page in a real browser over a real Gatehouse whose access log store was fed through
 * its AccessLogSink: the figures and charts, the filters (a bad one refused on its field), the
 * live tail, and the dashboard's denied tally leading to the denied lines.
 */
describe('web UI: logs and analytics', () => {
  let ui: UiHarness;
  let t: TestGatehouse;
  let page: Page;
  const statuses = () => page.getByTestId('logs').getByTestId('status').allTextContents();
  const errorOf = async (label: string) => {
    const id = await page.getByLabel(label, { exact: true }).getAttribute('aria-describedby');
    return id ? ((await page.locator(`[id="${id}"]`).textContent()) ?? '') : '';
  };

  beforeAll(async () => {
    ui = await startUi();
    ({ t, page } = ui);
    const records: AccessLogRecord[] = [];
    for (let i = 0; i < 40; i++)
      records.push(
        rec({
          // Every half hour over the last 20 h: one of them in the last hour.
          time: Date.now() - (40 - i) * 30 * 60_000,
          path: `/products/${i % 4}`,
          duration_ms: 10 + i,
          status: i % 10 === 0 ? 502 : 200,
        }),
      );
    records.push(rec({ status: 403, client: '203.0.113.66', path: '/admin' }));
    records.push(rec({ status: 401, client: '203.0.113.66', path: '/admin' }));
    records.push(
      rec({
        status: 404,
        client: '198.51.100.3',
        path: '/missing',
        service: 'blog',
        host: 'blog.gw.test',
        user: 'alice',
      }),
    );
    await t.gh.accessLog.ingest(records);
    await ui.signIn();
  }, 90_000);
  afterAll(async () => {
    await ui?.close();
  });

  it('keeps the menu on one line at 1200 px, Logs in it', async () => {
    const nav = page.getByRole('navigation', { name: 'Main' });
    const tops = await nav
      .getByRole('link')
      .evaluateAll((as) => as.map((a) => a.getBoundingClientRect().top));
    expect(new Set(tops).size).toBe(1);
    const header = await page.evaluate(() =>
      [...document.querySelectorAll('header > div > *')].map((e) =>
        Math.round(e.getBoundingClientRect().bottom),
      ),
    );
    expect(Math.max(...header) - Math.min(...header)).toBeLessThan(20);
    await nav.getByRole('link', { name: 'Logs', exact: true }).click();
    await page.getByRole('heading', { name: 'Logs', exact: true }).waitFor();
  });

  it('shows the last 24 h: requests, error rate, latency, charts and tops', async () => {
    const fig = (id: string) => page.getByTestId(id).locator('div').nth(1).textContent();
    await expect.poll(() => fig('fig-requests')).toBe('43');
    // 4 of 43 answered 5xx.
    expect(await fig('fig-error-rate')).toBe(`${((4 / 43) * 100).toFixed(2)} %`);
    expect(await fig('fig-denied')).toBe('2');
    expect(await fig('fig-4xx')).toBe('3');
    expect(
      await page.getByTestId('chart-requests').locator('[data-testid="bar-5xx"]').count(),
    ).toBeGreaterThan(0);
    await page.getByTestId('chart-latency').locator('circle').first().waitFor();
    const denied = page.getByTestId('top-denied').locator('tbody tr');
    expect(await denied.count()).toBe(1);
    expect(await denied.first().textContent()).toContain('203.0.113.66');
    expect(await page.getByTestId('top-paths').locator('tbody tr').first().textContent()).toMatch(
      /shop\.gw\.test\/products\/\d10/,
    );
    await page.getByRole('button', { name: 'Last hour' }).click();
    // The half-hourly one of 30 min ago and the three of 5 min ago.
    await expect.poll(() => fig('fig-requests')).toBe('4');
    await ui.shot('logs-analytics');
  });

  it('filters the list (status, service, client, user) and refuses a bad status on its field', async () => {
    await expect.poll(async () => (await statuses()).length).toBe(43);
    await page.getByLabel('Status', { exact: true }).fill('5xx');
    await page.getByRole('button', { name: 'Show', exact: true }).click();
    await expect.poll(statuses).toEqual(['502', '502', '502', '502']);
    expect(page.url()).toContain('#/logs/status%3D5xx');

    await page.getByLabel('Status', { exact: true }).fill('');
    await page.getByLabel('User', { exact: true }).fill('alice');
    await page.getByRole('button', { name: 'Show', exact: true }).click();
    await expect.poll(statuses).toEqual(['404']);
    // The analytics follow the service filter only; the user narrows the list.
    await page.getByLabel('User', { exact: true }).fill('');
    await page.getByLabel('Service', { exact: true }).fill('blog');
    await page.getByRole('button', { name: 'Show', exact: true }).click();
    await expect.poll(statuses).toEqual(['404']);
    await page.getByRole('heading', { name: 'Traffic of blog' }).waitFor();

    await page.getByLabel('Service', { exact: true }).fill('');
    await page.getByLabel('Status', { exact: true }).fill('6xx');
    await page.getByRole('button', { name: 'Show', exact: true }).click();
    await until(async () => ((await errorOf('Status')) ? true : undefined), 5_000);
    expect(await errorOf('Status')).toContain('status class');
    await ui.shot('logs-bad-status');
  });

  it('follows new records with the live tail, filtered', async () => {
    await page.goto(`${ui.base}/#/logs/${encodeURIComponent('status=5xx')}`);
    await expect.poll(async () => (await statuses()).length).toBe(4);
    await page.getByLabel('Live tail').check();
    await page.getByTestId('tail-state').getByText('following new records').waitFor();
    await t.gh.accessLog.ingest([
      rec({ time: Date.now(), status: 200, path: '/ignored' }),
      rec({ time: Date.now(), status: 503, path: '/just-now' }),
    ]);
    await expect.poll(async () => (await statuses())[0]).toBe('503');
    expect(await page.getByTestId('logs').locator('tbody tr').first().textContent()).toContain('/just-now');
    expect(await page.getByTestId('logs').textContent()).not.toContain('/ignored');
    await ui.shot('logs-live-tail');
  });

  it("leads from the dashboard's denied tally to the denied lines", async () => {
    await page.goto(`${ui.base}/#/`);
    await page.getByTestId('tally-denied').getByRole('link', { name: 'log lines' }).click();
    await page.getByRole('heading', { name: 'Logs', exact: true }).waitFor();
    await expect.poll(statuses).toEqual(['401', '403']);
    expect(await page.getByLabel('Status', { exact: true }).inputValue()).toBe('401,403,429');
  });
});
