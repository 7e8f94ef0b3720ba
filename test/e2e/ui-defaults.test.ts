import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, type TestServer } from '../helpers/net.js';
import { startUi, type UiHarness } from '../helpers/ui.js';

interface Stored {
  service: { access?: { identity_headers?: string[] } };
}

/** The UI shows the defaults that apply (not blanks), and real addresses rather than templates. */
describe('web UI: defaults as they apply', () => {
  let ui: UiHarness;
  let t: TestGatehouse;
  let page: Page;
  let app: TestServer;

  const identity = async () =>
    ((await t.api('GET', '/api/v1/services/who')).json as unknown as Stored).service.access?.identity_headers;
  const save = async () => {
    await page.getByRole('button', { name: 'Review changes' }).click();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: /Saved as version \d+/ })
      .waitFor();
  };

  beforeAll(async () => {
    ui = await startUi();
    ({ t, page } = ui);
    app = await echoBackend('who');
    const r = await t.api('PUT', '/api/v1/services/who?wait=true', {
      hosts: ['who.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
      access: { login: {} },
    });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    await ui.signIn();
  });
  afterAll(async () => {
    await ui?.close();
    await app?.close();
  });

  it('shows both identity-header sets as sent when the service says nothing, and stores what is unticked', async () => {
    await page.goto(`${ui.base}/#/services/who`);
    const remote = page.getByLabel('Send Remote-User headers').first();
    const xUser = page.getByLabel('Send X-User headers').first();
    await remote.waitFor();
    expect(await identity()).toBeUndefined();
    expect(await remote.isChecked()).toBe(true);
    expect(await xUser.isChecked()).toBe(true);
    await xUser.uncheck();
    await save();
    expect(await identity()).toEqual(['remote']);
    // Both off is "none", not back to the default of both.
    await remote.uncheck();
    await save();
    expect(await identity()).toEqual([]);
    await page.reload();
    await remote.waitFor();
    expect(await remote.isChecked()).toBe(false);
    expect(await xUser.isChecked()).toBe(false);
  });

  it('shows the redirect URI to register at a provider, as the API works it out', async () => {
    const api = (await t.api('GET', '/api/v1/providers')).json as { redirect_uri: string | null };
    expect(api.redirect_uri).toMatch(/^http:\/\/auth\.gw\.test(:[0-9]+)?\/oidc\/callback$/);
    await page.goto(`${ui.base}/#/providers`);
    const text = page.getByTestId('redirect-uri');
    await text.getByText(api.redirect_uri ?? '-').waitFor();
    expect(await text.textContent()).not.toContain('<');
  });

  it('offers the same link lifetime as the CLI and the API (24 h)', async () => {
    await page.goto(`${ui.base}/#/links`);
    expect(await page.getByLabel('Lifetime').inputValue()).toBe('24h');
  });
});
