import type { Server } from 'node:http';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receiver, type Received } from '../helpers/alerts.js';
import type { TestGatehouse } from '../helpers/gatehouse.js';
import { freePort, until } from '../helpers/net.js';
import { startUi, type UiHarness } from '../helpers/ui.js';

interface Listing {
  channels: { name: string; type: string; config: Record<string, unknown>; sealed: string[] }[];
}

/**
 * Alert channels added, tested and removed on the Alerts page, in a real browser, over a real
 * Gatehouse and a local webhook receiver: the model's schema refuses a bad URL before anything is
 * sent, a saved channel is listed without its URL, "Send test" reaches the receiver and says ok, a
 * channel to a closed port says why it failed.
 */
describe('web UI: alert channels', () => {
  let ui: UiHarness;
  let t: TestGatehouse;
  let page: Page;
  let hook: { url: string; got: Received[]; server: Server };
  /** The form's POSTs that reached the API. */
  const posts: string[] = [];
  /** The receiver's URL carries a token, as a real webhook's does: it must appear nowhere. */
  const TOKEN = 'tok-4711-very-secret';

  const listed = async () =>
    ((await t.api('GET', '/api/v1/alert-channels')).json as unknown as Listing).channels;
  const form = () => page.getByRole('form', { name: 'Add channel' });
  const card = () => page.getByTestId('alert-channels');
  const row = (name: string) => page.getByTestId('alert-channel-list').locator(`tr[data-channel="${name}"]`);
  /** The error shown under a field (tied to it with aria-describedby), '' when none. */
  const errorOf = async (label: string) => {
    const input = form().getByLabel(label, { exact: true });
    const id = await input.getAttribute('aria-describedby');
    return id ? ((await page.locator(`[id="${id}"]`).textContent()) ?? '') : '';
  };
  const fill = async (fields: Record<string, string>) => {
    for (const [label, value] of Object.entries(fields))
      await form().getByLabel(label, { exact: true }).fill(value);
  };
  const add = () => form().getByRole('button', { name: 'Add channel' }).click();
  const phoneShot = async (name: string) => {
    await page.setViewportSize({ width: 390, height: 844 });
    await until(
      async () =>
        (await page.evaluate(() => document.documentElement.scrollWidth)) <= 390 ? true : undefined,
      2_000,
    );
    await ui.shot(name);
    await page.setViewportSize({ width: 1200, height: 800 });
  };

  beforeAll(async () => {
    hook = await receiver();
    ui = await startUi();
    ({ t, page } = ui);
    page.on('request', (r) => {
      if (r.method() === 'POST' && r.url().endsWith('/api/v1/alert-channels')) posts.push(r.postData() ?? '');
    });
    await ui.signIn();
  }, 90_000);
  afterAll(async () => {
    await ui?.close();
    hook?.server.close();
  });

  it('keeps the menu on one line at 1200 px, Alerts in it', async () => {
    const nav = page.getByRole('navigation', { name: 'Main' });
    const links = await nav
      .getByRole('link')
      .evaluateAll((as) => as.map((a) => a.getBoundingClientRect().top));
    expect(new Set(links).size).toBe(1);
    // The whole header too: the brand, the menu, the user and "Sign out" side by side.
    const tops = await page.evaluate(() =>
      [...document.querySelectorAll('header > div > *')].map((e) =>
        Math.round(e.getBoundingClientRect().bottom),
      ),
    );
    expect(Math.max(...tops) - Math.min(...tops)).toBeLessThan(20);
    await nav.getByRole('link', { name: 'Alerts', exact: true }).click();
    await page.getByRole('heading', { name: 'Alerts' }).waitFor();
  });

  it('adds a webhook channel through the form: a bad URL refused on its field, the URL never shown', async () => {
    await card().getByText('No alert channels yet').waitFor();
    await card().getByRole('button', { name: 'Add channel' }).click();
    expect(await form().getByLabel('Type').inputValue()).toBe('webhook');
    expect(await form().getByLabel('Webhook URL').getAttribute('type')).toBe('password');

    // Not a URL: the model's schema says so in the browser, nothing is sent.
    await fill({ Name: 'ops', 'Webhook URL': 'hooks.example.com/gatehouse' });
    await add();
    await until(async () => ((await errorOf('Webhook URL')) ? true : undefined), 5_000);
    expect(await errorOf('Webhook URL')).toBe('the webhook URL, http(s)');
    expect(posts).toHaveLength(0);
    await ui.shot('alerts-url-error');

    await fill({
      'Webhook URL': `${hook.url}/hook/${TOKEN}`,
      'Signing secret (optional, HMAC-SHA256)': 'sign-secret-1',
    });
    await add();
    await form().getByText('Added ops (webhook).').waitFor();
    await row('ops').waitFor();
    expect(await row('ops').locator('td').nth(1).textContent()).toBe('webhook');
    const settings = await row('ops').getByTestId('settings').textContent();
    expect(settings).toContain(`url_origin${hook.url}`);
    expect(settings).toContain('urlsealed');
    expect(settings).toContain('secretsealed');
    expect(await form().getByLabel('Webhook URL').inputValue()).toBe('');
    const html = await page.content();
    expect(html).not.toContain(TOKEN);
    expect(html).not.toContain('sign-secret-1');
    expect((await listed()).map((c) => [c.name, c.sealed])).toEqual([['ops', ['url', 'secret']]]);
  });

  it('sends a test: the receiver gets it and the page says ok', async () => {
    await row('ops').getByRole('button', { name: 'Send a test to ops' }).click();
    await row('ops').getByText('ok: the test message was delivered.').waitFor();
    expect(hook.got).toHaveLength(1);
    expect(hook.got[0]?.method).toBe('POST');
    expect(hook.got[0]?.path).toBe(`/hook/${TOKEN}`);
    expect(JSON.parse(hook.got[0]?.body ?? '{}')).toMatchObject({
      channel: 'ops',
      title: 'Gatehouse test message',
    });
    await ui.shot('alerts');
    await phoneShot('alerts-phone');
  });

  it('refuses a taken name on its field; a channel to a closed port: Send test shows why it failed', async () => {
    // The same name again: the server's 409 is shown on the Name field.
    await fill({ Name: 'ops', 'Webhook URL': `${hook.url}/other` });
    await add();
    await until(async () => ((await errorOf('Name')) ? true : undefined), 5_000);
    expect(await errorOf('Name')).toBe('alert channel ops exists');
    const closed = `http://127.0.0.1:${await freePort()}/hook`;
    await form().getByLabel('Type').selectOption('slack');
    await fill({ Name: 'dead', 'Slack incoming webhook URL': closed });
    await add();
    await row('dead').waitFor();
    await row('dead').getByRole('button', { name: 'Send a test to dead' }).click();
    const outcome = row('dead').getByTestId('test-outcome');
    await until(
      async () => ((await outcome.textContent())?.startsWith('alert channel') ? true : undefined),
      15_000,
    );
    expect(await outcome.textContent()).toMatch(/^alert channel dead \(slack\): could not reach it/);
    expect(await outcome.getAttribute('role')).toBe('alert');
    expect(await page.content()).not.toContain(closed);
    await ui.shot('alerts-test-failed');
  });

  it("rules: edited on the page (the schema names a bad field); a firing alert and each channel's deliveries shown", async () => {
    const rules = page.getByTestId('alert-rules');
    const rule = (name: string) => rules.locator(`tr[data-rule="${name}"]`);
    await rule('upstream_down').getByText('hold 30 s · repeat every 1 h · to every channel').waitFor();
    await rule('sign_in_failures').getByRole('button', { name: 'Edit rule Failed sign-ins' }).click();
    const edit = page.getByRole('form', { name: 'Edit: Failed sign-ins' });
    const count = edit.getByLabel('More than this many failures', { exact: true });
    expect(await count.inputValue()).toBe('10');
    await count.fill('0');
    await edit.getByRole('button', { name: 'Save rule' }).click();
    const id = await until(async () => (await count.getAttribute('aria-describedby')) ?? undefined, 5_000);
    expect(await page.locator(`[id="${id}"]`).textContent()).toMatch(/>=\s?1|at least 1|too small/i);
    await count.fill('3');
    await edit.getByLabel('Within (minutes)', { exact: true }).fill('1');
    await edit.getByRole('button', { name: 'Save rule' }).click();
    await edit.getByText('Saved Failed sign-ins.').waitFor();
    await rule('sign_in_failures').getByText('more than this many failures: 3').waitFor();

    // Four wrong passwords: above 3 in a minute.
    for (let i = 0; i < 4; i++)
      await t.api('POST', '/api/v1/session', { username: `nobody${i}`, password: 'wrong wrong wrong' });
    const firing = page.getByTestId('alert-list').locator('tr[data-alert="sign_in_failures"]');
    await until(async () => {
      await page.getByTestId('alerts-now').getByRole('button', { name: 'Refresh' }).click();
      return (await firing.count()) > 0 ? true : undefined;
    }, 15_000);
    expect(await firing.textContent()).toContain('Failed sign-ins: 4 in 1 min');
    expect(await firing.textContent()).toContain('Firing');
    await until(
      () => (hook.got.some((g) => g.body.includes('[FIRING] Failed sign-ins')) ? true : undefined),
      10_000,
    );
    // The channels' deliveries: ops got it; dead (a closed port) is failing, retried, and says why.
    await until(async () => {
      await card().getByRole('button', { name: 'Refresh' }).click();
      const dead = (await row('dead').getByTestId('delivery').textContent()) ?? '';
      return dead.includes('failing') ? true : undefined;
    }, 15_000);
    expect(await row('ops').getByTestId('delivery').textContent()).toContain('last sent:');
    expect(await row('dead').getByTestId('delivery').textContent()).toMatch(
      /failing \(\d+ in a row.*\): alert channel dead \(slack\): could not reach it/,
    );
    await ui.shot('alerts-rules');
    await phoneShot('alerts-rules-phone');
  });

  it('removes a channel after a confirmation', async () => {
    await page.getByRole('button', { name: 'Remove alert channel dead' }).click();
    const confirm = page.getByRole('group', { name: 'Confirm removing alert channel dead' });
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    expect((await listed()).map((c) => c.name)).toEqual(['dead', 'ops']);
    for (const name of ['dead', 'ops']) {
      await page.getByRole('button', { name: `Remove alert channel ${name}` }).click();
      await page
        .getByRole('group', { name: `Confirm removing alert channel ${name}` })
        .getByRole('button', { name: 'Remove channel' })
        .click();
      await card().getByText(`Removed ${name}.`).waitFor();
      await row(name).waitFor({ state: 'detached' });
    }
    await card().getByText('No alert channels yet').waitFor();
    expect(await listed()).toEqual([]);
  });
});
