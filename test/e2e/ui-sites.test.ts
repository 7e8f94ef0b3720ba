import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SiteList } from '../../src/api/views/index.js';
import type { TestGatehouse } from '../helpers/gatehouse.js';
import { startUi, type UiHarness } from '../helpers/ui.js';

/** The Sites page in a real browser: add (bad input shown at its field), the one-time command, live status, remove. */
describe('web UI: sites', () => {
  let ui: UiHarness;
  let t: TestGatehouse;
  let page: Page;
  let base: string;

  const sitesNow = async () => ((await t.api('GET', '/api/v1/sites')).json as unknown as SiteList).sites;
  /** What a site's connector sends every 5 s, with the token from the command. */
  const sync = (token: string, lastHandshake: number) =>
    fetch(`${base}/edge/v1/site/sync`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ public_key: randomBytes(32).toString('base64'), last_handshake: lastHandshake }),
    });

  beforeAll(async () => {
    ui = await startUi();
    ({ t, page, base } = ui);
    await ui.signIn();
  }, 90_000);
  afterAll(async () => {
    await ui?.close();
  });

  it('refuses a bad subnet and a clash at the subnets field, and adds nothing', async () => {
    await page.getByRole('link', { name: 'Sites' }).click();
    await page.getByRole('heading', { name: 'Sites', exact: true }).waitFor();
    await page.getByText('No sites yet.').waitFor();

    await page.getByLabel('Site name').fill('home');
    await page.getByLabel(/LAN subnets/).fill('192.168.1.0/24, 10.0.0.0/33');
    await page.getByRole('button', { name: 'Add site' }).click();
    await page.locator('[aria-invalid="true"][name="subnets"]').waitFor();
    const subnetsError = page.locator('[name="subnets"]').locator('xpath=..').getByRole('alert');
    expect(await subnetsError.textContent()).toBe(
      '10.0.0.0/33: not an IPv4 CIDR block such as 192.168.1.0/24',
    );
    expect(await page.locator('[aria-invalid="true"][name="name"]').count()).toBe(0);
    await ui.shot('sites-bad-subnet');

    // Inside the tunnel range (100.96.0.0/24): the API's 409, at the same field.
    await page.getByLabel(/LAN subnets/).fill('100.96.0.0/25');
    await page.getByRole('button', { name: 'Add site' }).click();
    await subnetsError.filter({ hasText: /^100\.96\.0\.0\/25 overlaps the tunnel range/ }).waitFor();
    expect(await sitesNow()).toEqual([]);
  });

  it('adds a site, shows its command once, lists it, follows its connector, and removes it', async () => {
    await page.getByLabel('Site name').fill('home');
    await page.getByLabel(/LAN subnets/).fill('192.168.1.0/24 192.168.2.0/24');
    await page.getByRole('button', { name: 'Add site' }).click();
    const command = await page.getByRole('textbox', { name: 'Connect command' }).inputValue();
    const m = /^gatehouse site connect --control (\S+) --site-token (\S+) home$/.exec(command);
    expect(m?.[1]).toBe(base);
    const token = m?.[2] ?? '';
    expect(token).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    await page.getByRole('button', { name: 'Copy connect command' }).click();
    await page.getByText(/Copied\.|Selected:/).waitFor();
    // The field is empty again for the next site.
    expect(await page.getByLabel('Site name').inputValue()).toBe('');

    const row = page.getByTestId('sites').locator('tr[data-site="home"]');
    await row.waitFor();
    expect(await row.getByTestId('subnets').locator('li').allTextContents()).toEqual([
      '192.168.1.0/24',
      '192.168.2.0/24',
    ]);
    const [listed] = await sitesNow();
    expect(await row.getByTestId('address').textContent()).toBe(listed?.address);
    expect(listed?.address).toMatch(/^100\.96\.0\.\d+$/);
    expect(await row.getByTestId('connected').textContent()).toBe('not connected');
    expect(await row.getByTestId('handshake').textContent()).toBe('connector never started');
    expect(await row.getByTestId('last-seen').textContent()).toBe('never');
    await ui.shot('sites-added');

    // Site-to-site, off as added: turned on from its row (PATCH), and the list says so.
    expect(await row.getByTestId('site-to-site').textContent()).toMatch(/^off/);
    await row.getByRole('button', { name: 'Turn site-to-site on for home' }).click();
    await page.getByText('Site-to-site on for home.').waitFor();
    expect((await sitesNow())[0]?.site_to_site).toBe(true);
    expect(await row.getByTestId('site-to-site').textContent()).toMatch(/^on/);

    // The same name again: refused at the name field.
    await page.getByLabel('Site name').fill('home');
    await page.getByRole('button', { name: 'Add site' }).click();
    await page.locator('[aria-invalid="true"][name="name"]').waitFor();
    expect(await page.getByRole('textbox', { name: 'Connect command' }).count()).toBe(0);

    // The command's token is the connector's: its check-ins show without a reload.
    expect((await sync(token, 0)).status).toBe(200);
    await row.getByTestId('handshake').filter({ hasText: 'no handshake yet' }).waitFor({ timeout: 8_000 });
    expect(await row.getByTestId('last-seen').textContent()).toMatch(/^\d+ s ago$/);
    expect((await sync(token, Math.floor(Date.now() / 1000) - 3)).status).toBe(200);
    await row
      .getByTestId('connected')
      .filter({ hasText: /^connected$/ })
      .waitFor({ timeout: 8_000 });
    expect(await row.getByTestId('handshake').textContent()).toMatch(/^handshake \d+ s ago$/);
    await ui.shot('sites-connected');

    // A public edge's report (what an edge agent with --tunnel-port sends every 5 s): its probe of
    // the site and its `wg show` figures. The row shows the latency and bytes, the dashboard the latency.
    const node = await t.api('POST', '/api/v1/nodes', { name: 'vps', role: 'public' });
    expect(node.status).toBe(201);
    const [synced] = await sitesNow();
    const report = () =>
      fetch(`${base}/edge/v1/status`, {
        method: 'POST',
        headers: { authorization: `Bearer ${String(node.json.token)}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          applied_hash: '',
          tunnel: {
            peers: [
              {
                public_key: synced?.public_key,
                handshake: Math.floor(Date.now() / 1000) - 2,
                rx: 123_456,
                tx: 654_321,
              },
            ],
            probes: [{ address: synced?.address, ms: 1.75, up: true }],
          },
        }),
      });
    expect((await report()).status).toBe(200);
    await row.getByTestId('latency').filter({ hasText: '1.75 ms' }).waitFor({ timeout: 8_000 });
    expect(await row.locator('[data-edge="vps"]').textContent()).toBe('via vps: 1.75 ms');
    expect(await row.getByTestId('bytes').textContent()).toBe('120.6 KiB / 639.0 KiB');
    expect(await row.getByTestId('handshake').textContent()).toMatch(/^handshake \d+ s ago$/);
    await ui.shot('sites-latency');

    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page.getByTestId('count-sites').filter({ hasText: 'Sites connected1 / 1' }).waitFor();
    expect((await report()).status).toBe(200);
    const tile = page.getByTestId('tunnel-latency').locator('li[data-site="home"]');
    await tile.filter({ hasText: '1.75 ms' }).waitFor({ timeout: 8_000 });
    expect(await tile.textContent()).toBe('home1.75 ms');
    await ui.shot('sites-dashboard');
    await page.getByRole('link', { name: 'Sites' }).click();

    // At a phone's width the row is a card: nothing scrolls sideways, Remove stays on screen.
    await page.setViewportSize({ width: 390, height: 844 });
    await row.getByTestId('connected').waitFor();
    const phone = await page.evaluate(() => ({
      width: window.innerWidth,
      scroll: document.documentElement.scrollWidth,
      remove:
        document.querySelector('main table button[aria-label^="Remove site"]')?.getBoundingClientRect()
          .right ?? Infinity,
    }));
    expect(phone.scroll).toBeLessThanOrEqual(phone.width);
    expect(phone.remove).toBeLessThanOrEqual(phone.width);
    await ui.shot('sites-phone');
    await page.setViewportSize({ width: 1200, height: 800 });

    // Remove: a confirmation first, then it is gone and its token refused.
    await row.getByRole('button', { name: 'Remove site home' }).click();
    const confirm = page.getByRole('group', { name: 'Confirm removal' });
    expect(await confirm.textContent()).toMatch(/Remove site home\?/);
    expect(await sitesNow()).toHaveLength(1);
    await ui.shot('sites-confirm-remove');
    await confirm.getByRole('button', { name: 'Remove home' }).click();
    await page.getByText('Removed site home.').waitFor();
    await page.getByText('No sites yet.').waitFor();
    expect(await sitesNow()).toEqual([]);
    expect((await sync(token, 0)).status).toBe(401);
  });

  it('adds a site with site-to-site on from the form', async () => {
    await page.getByLabel('Site name').fill('office');
    await page.getByLabel(/LAN subnets/).fill('10.20.0.0/24');
    await page.getByLabel(/^Site-to-site/).check();
    await page.getByRole('button', { name: 'Add site' }).click();
    await page.getByRole('textbox', { name: 'Connect command' }).waitFor();
    expect(await sitesNow()).toMatchObject([{ name: 'office', site_to_site: true }]);
    const row = page.getByTestId('sites').locator('tr[data-site="office"]');
    expect(await row.getByTestId('site-to-site').textContent()).toMatch(/^on/);
    expect((await t.api('DELETE', '/api/v1/sites/office')).status).toBe(200);
  });
});
