import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, type TestServer } from '../helpers/net.js';
import { startUi, type UiHarness } from '../helpers/ui.js';

interface Key {
  id: string;
  name: string;
  services: string[];
  user: string | null;
  expires_at: string | null;
  state: string;
}

/**
 * API keys in a real browser: made in the form (the key shown once, then nowhere), used through
 * nginx, revoked after a confirmation; the API's refusals on their fields; and the service editor's
 * switch that lets keys pass, with or without a header of its own.
 */
describe('web UI: API keys', () => {
  let ui: UiHarness;
  let t: TestGatehouse;
  let page: Page;
  let app: TestServer;

  const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
  const keys = async () => ((await t.api('GET', '/api/v1/api-keys')).json as unknown as { keys: Key[] }).keys;
  const form = () => page.getByRole('form', { name: 'New API key' });
  const row = (name: string) => page.getByTestId('api-keys').locator('tr', { hasText: name });
  /** The message an invalid field points at with aria-describedby, if it is marked invalid. */
  const fieldError = async (field: Locator) => {
    if ((await field.getAttribute('aria-invalid')) !== 'true') return undefined;
    const id = await field.getAttribute('aria-describedby');
    const msg = page.locator(`[id="${id}"]`);
    expect(await msg.getAttribute('role')).toBe('alert');
    expect(await msg.isVisible()).toBe(true);
    return msg.textContent();
  };

  beforeAll(async () => {
    ui = await startUi();
    ({ t, page } = ui);
    app = await echoBackend('app');
    const ok = async (method: string, path: string, body: unknown) => {
      const r = await t.api(method, path, body);
      expect(r.status, `${path}: ${r.body}`).toBeLessThan(300);
    };
    for (const [name, access] of [
      ['api', { api_keys: true }],
      ['hook', { api_keys: { header: 'X-Api-Key' } }],
      ['wiki', { login: {} }],
    ] as const)
      await ok('PUT', `/api/v1/services/${name}?wait=true`, {
        hosts: [`${name}.gw.test`],
        routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
        access,
      });
    await ok('POST', '/api/v1/users', { username: 'ann', password: 'ann password 1' });
    await ui.signIn();
  });
  afterAll(async () => {
    await ui?.close();
    await app?.close();
  });

  it('creates a key in the form, shown once, which passes nginx until it is revoked', async () => {
    expect((await t.get('api.gw.test', '/')).status).toBe(401);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('heading', { name: 'API keys', exact: true }).waitFor();
    await page.getByText('No API keys yet.').waitFor();
    // The menu, with API keys in it, still fits on one line at 1200 px, and Sign out beside it.
    const tops = await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link')
      .evaluateAll((as) => as.map((a) => a.getBoundingClientRect().top));
    expect(new Set(tops).size).toBe(1);
    const bottoms = await page.evaluate(() =>
      [...document.querySelectorAll('header > div > *')].map((e) =>
        Math.round(e.getBoundingClientRect().bottom),
      ),
    );
    expect(Math.max(...bottoms) - Math.min(...bottoms)).toBeLessThan(20);
    // Only the services that take keys are offered; a user, or none for a service's own key.
    const picker = page.getByTestId('api-key-services');
    await picker.getByRole('checkbox').first().waitFor();
    expect(await picker.locator('label').allTextContents()).toEqual(['api', 'hook']);
    const user = form().getByLabel('Acts as user (optional)');
    expect(await user.locator('option').allTextContents()).toEqual(['none: a service key', 'ann', 'root']);

    await form().getByLabel('Name').fill('ci-deploy');
    await picker.getByRole('checkbox', { name: 'api', exact: true }).check();
    await form().getByRole('button', { name: 'Create API key' }).click();
    const status = form().getByRole('status');
    await status.filter({ hasText: 'API key ci-deploy created' }).waitFor();
    const token = await form().getByLabel('API key', { exact: true }).inputValue();
    expect(token).toMatch(/^ghk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    // The announced sentence never reads the key aloud; the hint says how to send it.
    expect(await status.textContent()).not.toContain(token.slice(4, 20));
    await form().getByText('Send it as Authorization: Bearer <key>.').waitFor();
    await form().getByRole('button', { name: 'Copy api key' }).click();
    await form()
      .getByText(/Copied\.|Selected:/)
      .waitFor();

    // Listed without the key: its services, no user, active, never expiring.
    const listed = row('ci-deploy');
    await listed.waitFor();
    expect(await listed.locator('td').allTextContents()).toEqual([
      'ci-deploy',
      'api',
      'service key',
      'active',
      'never',
      expect.any(String),
      'Revoke',
    ]);
    expect(await page.locator('main').textContent()).not.toContain(token.slice(21));

    const r = await t.get('api.gw.test', '/', bearer(token));
    expect(r.status).toBe(200);
    expect((JSON.parse(r.body) as { headers: Record<string, string> }).headers['remote-user']).toBe(
      'ci-deploy',
    );
    await ui.shot('api-keys');

    // Done puts the key away for good.
    await form().getByRole('button', { name: 'Done' }).click();
    expect(await form().getByLabel('API key', { exact: true }).count()).toBe(0);

    // Revoke asks first: Cancel keeps the key.
    await listed.getByRole('button', { name: 'Revoke API key ci-deploy' }).click();
    await listed.getByRole('button', { name: 'Cancel' }).click();
    expect((await t.get('api.gw.test', '/', bearer(token))).status).toBe(200);
    await listed.getByRole('button', { name: 'Revoke API key ci-deploy' }).click();
    await listed.getByRole('button', { name: 'Revoke key' }).click();
    await page.getByRole('status').filter({ hasText: 'Revoked API key ci-deploy.' }).waitFor();
    await listed.getByText('revoked', { exact: true }).waitFor();
    expect(await listed.getByRole('button').count()).toBe(0);
    expect((await t.get('api.gw.test', '/', bearer(token))).status).toBe(401);
  });

  it('shows the API’s refusal of a bad lifetime on its field, then makes a user’s key that expires', async () => {
    const before = (await keys()).length;
    const ttl = form().locator('[name="ttl"]');
    await form().getByLabel('Name').fill('ann-phone');
    await form().getByRole('checkbox', { name: 'api', exact: true }).check();
    await form().getByRole('checkbox', { name: 'hook', exact: true }).check();
    await ttl.fill('2y');
    await form().getByRole('button', { name: 'Create API key' }).click();
    await expect.poll(() => fieldError(ttl)).toBe('a lifetime such as 12h, 30d or 365d');
    expect(await form().getByLabel('Lifetime (optional)').getAttribute('name')).toBe('ttl');
    expect((await keys()).length).toBe(before);
    // The form kept what was typed: fix the lifetime, pick a user, and send again.
    await ui.shot('api-keys-bad-ttl');
    await ttl.fill('90d');
    await form().getByLabel('Acts as user (optional)').selectOption('ann');
    await form().getByRole('button', { name: 'Create API key' }).click();
    const token = await form().getByLabel('API key', { exact: true }).inputValue();
    expect(await fieldError(ttl)).toBeUndefined();
    // Two services read the key from different headers: the hint says which where.
    await form()
      .getByText('Send it as Authorization: Bearer <key> (api) or X-Api-Key: <key> (hook).')
      .waitFor();
    const made = (await keys()).find((k) => k.name === 'ann-phone');
    expect(made).toMatchObject({ services: ['api', 'hook'], user: 'ann', state: 'active' });
    const days = (Date.parse(made?.expires_at ?? '') - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(89.9);
    expect(days).toBeLessThanOrEqual(90);
    expect(await row('ann-phone').locator('td').nth(2).textContent()).toBe('ann');
    expect(await row('ann-phone').textContent()).not.toContain('never');

    const r = await t.get('hook.gw.test', '/', { headers: { 'x-api-key': token } });
    expect(r.status).toBe(200);
    expect((JSON.parse(r.body) as { headers: Record<string, string> }).headers['remote-user']).toBe('ann');
    await ui.shot('api-keys-listed');
    // A phone's width: nothing scrolls sideways, the key's Revoke stays on screen.
    await page.setViewportSize({ width: 390, height: 844 });
    await ui.shot('api-keys-phone');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    const revoke = await row('ann-phone')
      .getByRole('button', { name: 'Revoke API key ann-phone' })
      .boundingBox();
    expect((revoke?.x ?? -1) >= 0 && (revoke?.x ?? 0) + (revoke?.width ?? 999) <= 390).toBe(true);
    await page.setViewportSize({ width: 1200, height: 800 });
  });

  it('lets API keys pass in the service editor, from a header of its own or Authorization: Bearer', async () => {
    const L = (label: string) => page.getByLabel(label, { exact: true }).first();
    const review = () => page.getByRole('button', { name: 'Review changes' }).click();
    const save = async () => {
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page
        .getByRole('status')
        .filter({ hasText: /Saved as version/ })
        .waitFor();
    };
    const access = async () =>
      (
        (await t.api('GET', '/api/v1/services/wiki')).json as {
          service: { access: { login?: unknown; api_keys?: unknown } };
        }
      ).service.access;

    await page.goto(page.url().replace(/#.*$/, '#/services/wiki'));
    await page.getByRole('heading', { name: 'Service wiki' }).waitFor();
    const box = L('API keys may pass (Authorization: Bearer)');
    expect(await box.isChecked()).toBe(false);
    await box.check();
    const header = L('Header (instead of Authorization: Bearer)');
    expect(await header.inputValue()).toBe('');
    await header.fill('X Key');
    await review();
    // The model's own words, on the field.
    await expect.poll(() => fieldError(header)).toBe('letters, digits and hyphens (up to 64)');
    await header.fill('X-Api-Key');
    await review();
    await page
      .getByTestId('review-diff')
      .getByText(/^\+\s+header: X-Api-Key$/)
      .waitFor();
    await ui.shot('service-editor-api-keys');
    await save();
    expect(await access()).toMatchObject({ login: {}, api_keys: { header: 'X-Api-Key' } });

    // Emptied, the header goes back to Authorization: Bearer.
    await header.fill('');
    await review();
    await page
      .getByTestId('review-diff')
      .getByText(/^\+\s+api_keys: true$/)
      .waitFor();
    await save();
    expect(await access()).toMatchObject({ login: {}, api_keys: true });

    // The API keys page offers the service now.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API keys' }).click();
    await form().getByRole('checkbox', { name: 'wiki', exact: true }).waitFor();
  });
});
