import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, type TestServer } from '../helpers/net.js';
import { startUi, type UiHarness } from '../helpers/ui.js';

const PAGES = [
  '',
  'services',
  'users',
  'links',
  'api-keys',
  'providers',
  'nodes',
  'sites',
  'vpn',
  'certificates',
  'logs',
  'alerts',
  'snapshots',
  'audit',
];

/**
 * At a phone's width (390 × 844) no page scrolls sideways and every table's buttons and links are
 * on screen: tables turn into labelled cards instead of hiding their actions behind a scroll.
 */
describe('web UI at phone width', () => {
  let ui: UiHarness;
  let t: TestGatehouse;
  let page: Page;
  let app: TestServer;

  beforeAll(async () => {
    ui = await startUi();
    t = ui.t;
    page = ui.page;
    app = await echoBackend('phone');
    const ok = async (method: string, path: string, body: unknown) => {
      const r = await t.api(method, path, body);
      expect(r.status, `${path}: ${JSON.stringify(r.json)}`).toBeLessThan(300);
    };
    await ok('POST', '/api/v1/groups', {
      name: 'operations-team',
      description: 'Runs the machines at night',
    });
    await ok('POST', '/api/v1/users', {
      username: 'a-rather-long-user-name',
      password: 'user password 1',
      groups: ['operations-team'],
    });
    for (const [name, access] of [
      ['shared', { links: true, api_keys: true }],
      ['guarded', { login: { groups: ['operations-team'] } }],
      ['public-with-a-long-name', undefined],
    ] as const)
      await ok('PUT', `/api/v1/services/${name}?wait=true`, {
        hosts: [`${name}.some-subdomain.example.test`, `www.${name}.example.test`],
        routes: [{ upstreams: [`127.0.0.1:${app.port}`, '127.0.0.2:65535'] }],
        ...(access ? { access } : {}),
      });
    await ok('POST', '/api/v1/links', { service: 'shared', note: 'for the plumber who comes on Tuesday' });
    await ok('POST', '/api/v1/api-keys', {
      name: 'the deploy job of a-rather-long-repository-name',
      services: ['shared'],
      user: 'a-rather-long-user-name',
    });
    // Access log lines with long paths and a user, for the Logs page (its analytics and its list).
    const time = Date.now() - 60_000;
    await t.gh.accessLog.ingest(
      [200, 404, 502, 403].map((status, i) => ({
        time: time + i,
        node: 'local',
        host: 'public-with-a-long-name.some-subdomain.example.test',
        service: 'public-with-a-long-name',
        route: '/',
        method: 'GET',
        path: `/a/rather/long/path/that/goes/on/and/on/${'x'.repeat(60)}/${i}`,
        status,
        duration_ms: 12.5,
        upstream: null,
        upstream_ms: null,
        bytes_in: 300,
        bytes_out: 5000,
        client: '2001:db8:1234:5678:9abc:def0:1234:5678',
        user: i === 3 ? 'a-rather-long-user-name' : null,
        country: null,
      })),
    );
  });
  afterAll(async () => {
    await ui?.close();
    await app?.close();
  });

  it('fits every page into 390 px with the actions in view', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await ui.signIn();
    for (const p of PAGES) {
      await page.goto(`${ui.base}/#/${p}`);
      await page.locator('main h1').first().waitFor();
      // Let the page's data arrive (tables render after their fetches).
      await page.waitForLoadState('networkidle').catch(() => undefined);
      await page.waitForTimeout(300);
      const m = await page.evaluate(() => {
        const width = window.innerWidth;
        const actions = [...document.querySelectorAll('main table button, main table a')].map((el) => {
          const r = el.getBoundingClientRect();
          return { text: (el.textContent ?? '').trim().slice(0, 40), left: r.left, right: r.right };
        });
        // A card's line is at least as tall as its label (drawn beside it, out of the flow): else
        // an empty cell's label runs into the next line's, as the dashboard's events once did.
        const short = [...document.querySelectorAll<HTMLElement>('main table td[data-label]')]
          .filter((td) => td.dataset.label && getComputedStyle(td).display !== 'none')
          .map((td) => ({
            label: td.dataset.label,
            height: td.getBoundingClientRect().height,
            needs: parseFloat(getComputedStyle(td, '::before').lineHeight),
          }))
          .filter((c) => c.height < c.needs - 0.5);
        return { width, scroll: document.documentElement.scrollWidth, actions, short };
      });
      expect(m.short, `#/${p}: labels taller than their lines`).toEqual([]);
      expect(m.scroll, `#/${p} scrolls sideways`).toBeLessThanOrEqual(m.width);
      for (const a of m.actions) {
        expect(a.left, `#/${p}: "${a.text}"`).toBeGreaterThanOrEqual(0);
        expect(a.right, `#/${p}: "${a.text}"`).toBeLessThanOrEqual(m.width);
      }
      if (p === '')
        // The sign-in above is a security event whose "Where" is empty: the case that overlapped.
        expect(await page.getByTestId('events').locator('tr').count()).toBeGreaterThan(1);
      if (p === 'audit') {
        // The filter's buttons sit beside its input, as tall as it.
        const input = await page.getByLabel('User', { exact: true }).boundingBox();
        const show = await page.getByRole('button', { name: 'Show', exact: true }).boundingBox();
        expect(Math.abs((input?.y ?? 0) - (show?.y ?? -9))).toBeLessThanOrEqual(1);
        expect(Math.abs((input?.height ?? 0) - (show?.height ?? -9))).toBeLessThanOrEqual(1);
      }
      if (['services', 'users', 'links', 'api-keys'].includes(p))
        expect(m.actions.length, `#/${p} has rows with actions`).toBeGreaterThan(0);
      await ui.shot(`phone-${p || 'dashboard'}`);
    }
  });

  it('shows every item of the main menu on screen (it wraps, nothing hides behind a scroll)', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    // Signed in by the test before.
    await page.goto(`${ui.base}/#/`);
    const links = page.locator('nav[aria-label="Main"] a');
    await links.first().waitFor();
    const boxes = await links.evaluateAll((els) =>
      els.map((el) => {
        const r = el.getBoundingClientRect();
        return { text: el.textContent ?? '', left: r.left, right: r.right };
      }),
    );
    expect(boxes.length).toBeGreaterThan(5);
    for (const b of boxes) {
      expect(b.left, b.text).toBeGreaterThanOrEqual(0);
      expect(b.right, b.text).toBeLessThanOrEqual(390);
    }
  });

  it('tells a public service from a guarded one in the services list', async () => {
    await page.setViewportSize({ width: 1200, height: 800 });
    await page.goto(`${ui.base}/#/services`);
    const cell = (name: string, id: string) =>
      page
        .getByTestId('services')
        .locator('tr', { has: page.getByRole('link', { name, exact: true }) })
        .getByTestId(id)
        .textContent();
    await page.getByTestId('services').waitFor();
    expect(await cell('guarded', 'access')).toBe('sign-in (operations-team)');
    expect(await cell('shared', 'access')).toBe('links or API keys');
    expect(await cell('public-with-a-long-name', 'access')).toBe('public');
    expect(await cell('guarded', 'upstreams')).toBe(`127.0.0.1:${app.port}, 127.0.0.2:65535`);
    // This Gatehouse has no HTTPS listener (https_port 0): HTTPS is off, whatever the certificates.
    expect(await cell('guarded', 'https')).toBe('off');
    expect(await cell('guarded', 'health')).toBe('not checked');
  });
});
