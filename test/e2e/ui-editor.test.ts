import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGatehouse } from '../helpers/gatehouse.js';
import { freePort, startServer, type TestServer } from '../helpers/net.js';
import { startUi, type UiHarness } from '../helpers/ui.js';

/**
 * The service editor in a real browser: the model's schema checks fields as the API does (same
 * messages, next to the field), the API's own refusals land on their fields too, the diff is shown
 * before saving, and what is saved is what the proxy serves.
 */
describe('web UI: service editor', () => {
  let ui: UiHarness;
  let t: TestGatehouse;
  let page: Page;
  let app: TestServer;

  const L = (label: string) => page.getByLabel(label, { exact: true });
  const field = (name: string) => page.locator(`[name="${name}"]`);
  const review = async () => {
    await page.getByRole('button', { name: 'Review changes' }).click();
  };
  /** Saves what the review shows and waits for the answer. */
  const save = async () => {
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: /Saved as version/ })
      .waitFor();
  };

  beforeAll(async () => {
    ui = await startUi();
    ({ t, page } = ui);
    app = await startServer(
      (req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`app ${req.url}`);
      },
      await freePort(),
    );
    await ui.signIn();
  });
  afterAll(async () => {
    await ui?.close();
    await app?.close();
  });

  it('creates a service with a route, a health check and a header, after showing the diff', async () => {
    await page.getByRole('link', { name: 'Services' }).click();
    await page.getByRole('link', { name: 'New service in the full editor' }).click();
    await page.getByRole('heading', { name: 'New service' }).waitFor();
    await L('Name').fill('edited');
    await L('Host 1').fill('edited.test');
    await L('Route 1 upstream 1').fill('localhost:80');
    await review();
    // Checked in the browser with the model's schema: the API's very words, next to the field.
    const upstream = field('routes.0.upstreams.0');
    await page.locator('[name="routes.0.upstreams.0"][aria-invalid="true"]').waitFor();
    const api = await t.api('PUT', '/api/v1/services/edited?dry_run=true', {
      hosts: ['edited.test'],
      routes: [{ upstreams: ['localhost:80'] }],
    });
    const apiMessage =
      (api.json.error as unknown as { issues: { message: string }[] }).issues[0]?.message ?? '';
    expect(apiMessage).toMatch(/host names are not resolved/);
    const describedBy = await upstream.getAttribute('aria-describedby');
    expect(await page.locator(`[id="${describedBy}"]`).textContent()).toBe(apiMessage);
    expect((await t.api('GET', '/api/v1/services/edited')).status).toBe(404);

    await upstream.fill(`127.0.0.1:${app.port}`);
    await L('Health check').check();
    await L('Health: path').fill('/health');
    await page.getByText('Headers', { exact: true }).click();
    await page.getByRole('button', { name: 'Add header' }).nth(1).click();
    await L('Response header: name 1').fill('X-Env');
    await L('Response header: value 1').fill('edited-in-ui');
    await review();
    const diff = page.getByTestId('review-diff');
    await diff.getByText(/^\+\s+- edited\.test$/).waitFor();
    await diff.getByText(/^\+\s+X-Env: edited-in-ui$/).waitFor();
    // Nothing is written until Save.
    expect((await t.api('GET', '/api/v1/services/edited')).status).toBe(404);
    await ui.shot('service-editor-review');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: /Saved as version \d+/ })
      .waitFor();
    await page.getByRole('heading', { name: 'Service edited' }).waitFor();
    const served = await t.get('edited.test', '/x');
    expect(served.status).toBe(200);
    expect(served.body).toBe('app /x');
    expect(served.headers['x-env']).toBe('edited-in-ui');
    const stored = (await t.api('GET', '/api/v1/services/edited')).json as {
      service: { routes: { health?: { path: string } }[] };
    };
    expect(stored.service.routes[0]?.health?.path).toBe('/health');
  });

  it('changes the access model: an address allow list keeps others out', async () => {
    await L('Public: anyone may pass').first().uncheck();
    await review();
    // Nothing admits anyone now: said on the access section itself.
    await page
      .getByText(/say who may pass/)
      .first()
      .waitFor();
    await L('Addresses that pass').first().check();
    await L('Addresses (CIDR)').first().fill('10.9.9.0/24, 10.9.8.7');
    await review();
    const diff = page.getByTestId('review-diff');
    await diff.getByText(/^-\s+public: true$/).waitFor();
    await diff.getByText(/^\+\s+- 10\.9\.9\.0\/24$/).waitFor();
    await save();
    expect((await t.get('edited.test')).status).toBe(403);
    await ui.shot('service-editor');
  });

  it('adds a rule that lets a client with a header pass; a pattern nginx could not run is refused on its field', async () => {
    await L('Rules (checked first; first match decides)').first().check();
    await L('Rule 1: header').first().selectOption('regex');
    await L('Rule 1: header name').first().fill('X-Api-Key');
    await L('Rule 1: header pattern').first().fill('(?<=k)-1');
    await review();
    const refused = page.locator('[name="access.rules.0.header.regex"] ~ [role="alert"]');
    expect(await refused.textContent()).toMatch(/no \(\?\.\.\.\) groups/);
    await L('Rule 1: header').first().selectOption('equals');
    await L('Rule 1: header value').first().fill('k-1');
    await review();
    await page
      .getByTestId('review-diff')
      .getByText(/equals: k-1$/)
      .waitFor();
    await ui.shot('service-editor-header-rule');
    await save();
    expect((await t.get('edited.test')).status).toBe(403);
    expect((await t.get('edited.test', '/', { headers: { 'x-api-key': 'k-1' } })).status).toBe(200);
  });

  it('adds a GeoIP rule: a country in lowercase is refused on its field, networks are saved as numbers', async () => {
    await page.getByRole('button', { name: 'Add rule' }).first().click();
    await L('Rule 2: path').first().fill('/eu/');
    await L('Rule 2: countries').first().fill('de, AT');
    await review();
    const refused = page.locator('[name="access.rules.1.country"] ~ [role="alert"]');
    expect(await refused.textContent()).toMatch(/two-letter country code in capitals/);
    await L('Rule 2: countries').first().fill('DE, AT');
    await L('Rule 2: networks (ASN)').first().fill('3320');
    await review();
    await page
      .getByTestId('review-diff')
      .getByText(/^\+\s+- 3320$/)
      .waitFor();
    await save();
    const saved = (await t.api('GET', '/api/v1/services/edited')).json as unknown as {
      service: { access: { rules: { country?: string[]; asn?: number[] }[] } };
    };
    expect(saved.service.access.rules[1]).toMatchObject({ country: ['DE', 'AT'], asn: [3320] });
    // Without a GeoIP database an allow rule on a country admits no one: nothing changed here.
    expect((await t.get('edited.test', '/eu/')).status).toBe(403);
  });

  it('sets limits on the service: requests at once and bandwidth, a bad rate refused on its field', async () => {
    await L('Limits: requests at once, bandwidth (every route)').check();
    await L('Limits: requests at once per client').fill('3');
    await L('Limits: bandwidth per connection').fill('1k5');
    await review();
    const refused = page.locator('[name="limits.bandwidth"] ~ [role="alert"]');
    expect(await refused.textContent()).toMatch(/a rate in bytes a second/);
    await L('Limits: bandwidth per connection').fill('64k');
    await review();
    await page
      .getByTestId('review-diff')
      .getByText(/bandwidth: 64k$/)
      .waitFor();
    await ui.shot('service-editor-limits');
    await save();
    const rec = (await t.api('GET', '/api/v1/services/edited')).json as { service: { limits?: unknown } };
    expect(rec.service.limits).toEqual({ connections_per_client: 3, bandwidth: '64k' });
  });

  it('shows the API’s own refusals on their fields, and never overwrites a change made meanwhile', async () => {
    await t.api('PUT', '/api/v1/services/other?wait=true', {
      hosts: ['taken.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
      access: { public: true },
    });
    await page.getByRole('button', { name: 'Add host' }).click();
    await L('Host 2').fill('taken.test');
    await review();
    // Only the API knows another service has it: its 409, on the host list.
    await page
      .getByRole('alert')
      .filter({ hasText: /taken\.test/ })
      .first()
      .waitFor();
    await page.getByRole('button', { name: 'Remove host 2' }).click();
    await L('Public: anyone may pass').first().check();
    await L('Addresses that pass').first().uncheck();
    await review();
    await page.getByTestId('review-diff').waitFor();
    // Someone else changes the service before this save.
    const now = (await t.api('GET', '/api/v1/services/edited')).json as { service: Record<string, unknown> };
    await t.api('PUT', '/api/v1/services/edited?wait=true', { ...now.service, hsts: true });
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page
      .getByRole('alert')
      .filter({ hasText: /changed at .* by someone else/ })
      .waitFor();
    expect(
      ((await t.api('GET', '/api/v1/services/edited')).json as { service: { hsts?: boolean } }).service.hsts,
    ).toBe(true);
    expect((await t.get('edited.test')).status).toBe(403);
    // Their version, loaded on request: HSTS is on now, and the allow list is still there.
    await page.getByRole('button', { name: /^Load their version/ }).click();
    await expect.poll(() => L('HSTS (browsers insist on HTTPS)').isChecked()).toBe(true);
    expect(await L('Addresses that pass').first().isChecked()).toBe(true);
  });

  it('edits the service as YAML, and back in the form', async () => {
    await page.reload();
    await page.getByRole('heading', { name: 'Service edited' }).waitFor();
    await page.getByRole('button', { name: 'Edit as YAML' }).click();
    const text = L('Service (YAML)');
    const yaml = await text.inputValue();
    expect(yaml).toMatch(/^hsts: true$/m);
    await text.fill(
      yaml
        .replace('  - edited.test', '  - edited.test\n  - yaml.test')
        .replace(/^access:\n( {2}.*\n)+/m, 'access:\n  public: true\n'),
    );
    await page.getByRole('button', { name: 'Back to the form' }).click();
    expect(await L('Host 2').inputValue()).toBe('yaml.test');
    await review();
    await save();
    expect((await t.get('yaml.test')).status).toBe(200);
    expect((await t.get('edited.test')).status).toBe(200);
  });

  it('works from the keyboard and fits a phone', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    await page.getByRole('heading', { name: 'Service edited' }).waitFor();
    await ui.shot('service-editor-phone');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.setViewportSize({ width: 1200, height: 800 });
    // Edit a field and reach "Review changes" with Tab and Enter only.
    await L('Host 1').focus();
    await page.keyboard.press('End');
    await page.keyboard.type('x');
    let guard = 0;
    while (
      guard++ < 200 &&
      (await page.evaluate(() => document.activeElement?.textContent ?? '')) !== 'Review changes'
    )
      await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page
      .getByTestId('review-diff')
      .getByText(/^\+\s+- edited\.testx$/)
      .waitFor();
  });

  it('deletes the service after a confirmation', async () => {
    await page.getByRole('button', { name: 'Keep editing' }).click();
    await page.getByRole('button', { name: 'Delete service' }).click();
    await page.getByRole('button', { name: 'Cancel' }).click();
    expect((await t.api('GET', '/api/v1/services/edited')).status).toBe(200);
    await page.getByRole('button', { name: 'Delete service' }).click();
    await page.getByRole('button', { name: 'Confirm delete' }).click();
    await page.getByRole('heading', { name: 'Services', exact: true }).waitFor();
    expect((await t.api('GET', '/api/v1/services/edited')).status).toBe(404);
    expect((await t.get('edited.test')).status).not.toBe(200);
  });

  it('says a service without an access block is public', async () => {
    await t.api('PUT', '/api/v1/services/plain?wait=true', {
      hosts: ['plain.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
    });
    await page.goto(page.url().replace(/#.*$/, '#/services/plain'));
    await page.getByRole('heading', { name: 'Service plain' }).waitFor();
    // The boxes are all empty, yet anyone passes (as `service ls` says: PUBLIC).
    expect(await L('Public: anyone may pass').first().isChecked()).toBe(false);
    await page.getByText('No access is set, so anyone may pass, as with Public.').waitFor();
    expect((await t.get('plain.test')).status).toBe(200);
    // Once access is set, the note goes.
    await L('Public: anyone may pass').first().check();
    expect(await page.getByText('No access is set').count()).toBe(0);
  });

  it('lines each Remove button up with the field it removes, with an error shown or not', async () => {
    const aligned = async (input: string, button: string, where: string) => {
      const a = await L(input).boundingBox();
      const b = await page.getByRole('button', { name: button, exact: true }).boundingBox();
      if (!a || !b) throw new Error(`${where}: ${input} or ${button} not shown`);
      // Same line, same height: top and bottom edges together (not the button's bottom on the
      // input's, with its top lower, as before).
      expect(Math.abs(a.y - b.y), `${where}: top of ${button}`).toBeLessThanOrEqual(1);
      expect(
        Math.abs(a.y + a.height - (b.y + b.height)),
        `${where}: bottom of ${button}`,
      ).toBeLessThanOrEqual(1);
      expect(b.x, `${where}: ${button} beside the field`).toBeGreaterThanOrEqual(a.x + a.width);
    };
    await page.getByText('Headers', { exact: true }).click();
    await page.getByRole('button', { name: 'Add header' }).nth(1).click();
    for (const width of [1200, 390]) {
      await page.setViewportSize({ width, height: 844 });
      await aligned('Host 1', 'Remove host 1', `${width} px`);
      await aligned('Route 1 upstream 1', 'Remove route 1 upstream 1', `${width} px`);
      await aligned('Response header: value 1', 'Remove response header 1', `${width} px`);
    }
    await page.setViewportSize({ width: 1200, height: 800 });
    // An error below the field does not pull the button down with it.
    await L('Host 1').fill('bad..host');
    await review();
    await page.locator('[name="hosts.0"][aria-invalid="true"]').waitFor();
    await aligned('Host 1', 'Remove host 1', 'with an error');
    await ui.shot('service-editor-remove-buttons');
  });

  it('shows in the quick form what each field takes', async () => {
    await page.goto(page.url().replace(/#.*$/, '#/services'));
    await page.getByRole('heading', { name: 'New service' }).waitFor();
    const hint = (label: string) =>
      page
        .getByRole('form', { name: 'New service' })
        .getByLabel(label, { exact: true })
        .getAttribute('placeholder');
    expect(await hint('Name')).toMatch(/^whoami /);
    expect(await hint('Host')).toBe('whoami.example.com');
    // An address, not a host name (which the API refuses: host names are not resolved).
    expect(await hint('Upstream')).toBe('IP:port, e.g. 192.0.2.10:8080');
  });
});
