import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBind, type Bind } from '../helpers/bind.js';
import type { TestGatehouse } from '../helpers/gatehouse.js';
import { freePort, until } from '../helpers/net.js';
import { testDir } from '../helpers/tmp.js';
import { startUi, type UiHarness } from '../helpers/ui.js';

const ZONE = 'prov.test';

interface Listing {
  providers: { name: string; type: string; zone: string; config: Record<string, unknown> }[];
}

/**
 * DNS providers added and removed on the DNS page, in a real browser, over a real Gatehouse and a
 * real BIND: the model's schema refuses a bad server before anything is sent, the server refuses a
 * zone BIND does not serve (on the zone field), a provider that is saved is listed without its
 * secret, one whose server does not answer is saved with the reason shown.
 */
describe('web UI: DNS providers', () => {
  let ui: UiHarness;
  let t: TestGatehouse;
  let page: Page;
  let bind: Bind;
  /** The form's POSTs that reached the API. */
  const posts: string[] = [];

  const listed = async () =>
    ((await t.api('GET', '/api/v1/dns-providers')).json as unknown as Listing).providers;
  const form = () => page.getByRole('form', { name: 'Add DNS provider' });
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
  const add = () => form().getByRole('button', { name: 'Add DNS provider' }).click();
  /** Nothing on the page is wider than a phone (tables turn into cards). */
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
    bind = await startBind(ZONE);
    // The doctor on the same page asks only this BIND: nothing leaves the machine.
    ui = await startUi({ dns_doctor_resolver: bind.server, dns_doctor_timeout: '1s' });
    ({ t, page } = ui);
    page.on('request', (r) => {
      if (r.method() === 'POST' && r.url().endsWith('/api/v1/dns-providers')) posts.push(r.postData() ?? '');
    });
    await ui.signIn();
  }, 90_000);
  afterAll(async () => {
    await ui?.close();
    await bind?.close();
  });

  it('adds an RFC 2136 provider through the form: bad server and foreign zone refused on their fields', async () => {
    await page.getByRole('link', { name: 'DNS', exact: true }).click();
    const card = page.getByTestId('dns-provider-setup');
    await card.getByText('No DNS providers yet').waitFor();
    await card.getByRole('button', { name: 'Add DNS provider' }).click();
    expect(await form().getByLabel('Type').inputValue()).toBe('rfc2136');
    // The secret is typed into a password input.
    expect(await form().getByLabel('TSIG secret (base64)').getAttribute('type')).toBe('password');

    // A host name where an IP:port belongs: the model's schema says so in the browser, nothing is sent.
    await fill({
      Name: 'home-bind',
      Zone: ZONE,
      'Primary server (IP:port)': 'ns1.prov.test',
      'TSIG key name': bind.tsigName,
      'TSIG secret (base64)': bind.tsigSecret,
    });
    await add();
    await until(async () => ((await errorOf('Primary server (IP:port)')) ? true : undefined), 5_000);
    expect(await errorOf('Primary server (IP:port)')).toBe(
      'a DNS server as IP:port (e.g. 192.0.2.53:53, [2001:db8::53]:53)',
    );
    expect(posts).toHaveLength(0);
    await ui.shot('dns-providers-schema-error');

    // A zone this BIND does not serve: the server asks it, answers 400 on zone, stores nothing.
    await fill({ Zone: 'elsewhere.test', 'Primary server (IP:port)': bind.server });
    await add();
    await until(async () => ((await errorOf('Zone')) ? true : undefined), 10_000);
    expect(await errorOf('Zone')).toMatch(
      new RegExp(
        `^${bind.server.replace(/\./g, '\\.')} does not serve the zone elsewhere\\.test \\(E[A-Z]+\\)$`,
      ),
    );
    expect(await errorOf('Primary server (IP:port)')).toBe('');
    expect(posts).toHaveLength(1);
    expect(await listed()).toEqual([]);
    await ui.shot('dns-providers-zone-error');

    // The zone BIND serves: saved, listed with its settings, the secret sealed and nowhere on the page.
    await fill({ Zone: ZONE });
    await add();
    await form().getByText(`Added home-bind for ${ZONE}. The provider holds the zone.`).waitFor();
    const row = page.getByTestId('dns-provider-list').locator('tr[data-provider="home-bind"]');
    await row.waitFor();
    expect(await row.locator('td').nth(1).textContent()).toBe('rfc2136');
    expect(await row.locator('td').nth(2).textContent()).toBe(ZONE);
    const settings = await row.getByTestId('settings').textContent();
    expect(settings).toContain(`server${bind.server}`);
    expect(settings).toContain(`tsig_name${bind.tsigName}`);
    expect(settings).toContain('tsig_algorithmhmac-sha256');
    expect(settings).toContain('tsig_secretsealed');
    // The form forgot what was typed; the API lists the provider; the secret is in no HTML.
    expect(await form().getByLabel('TSIG secret (base64)').inputValue()).toBe('');
    expect(await form().getByLabel('Name', { exact: true }).inputValue()).toBe('');
    expect(await listed()).toEqual([
      {
        name: 'home-bind',
        type: 'rfc2136',
        zone: ZONE,
        config: { server: bind.server, tsig_name: bind.tsigName, tsig_algorithm: 'hmac-sha256' },
        created_at: expect.any(String) as string,
      },
    ]);
    expect(await page.content()).not.toContain(bind.tsigSecret);
    await ui.shot('dns-providers');
    await phoneShot('dns-providers-phone');
  });

  it('saves a provider whose server does not answer, saying why its zone was not checked', async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    await fill({
      Name: 'old-ns',
      Zone: 'old.test',
      'Primary server (IP:port)': closed,
      'TSIG key name': bind.tsigName,
      'TSIG secret (base64)': bind.tsigSecret,
    });
    await form().getByLabel('TSIG algorithm').selectOption('hmac-sha512');
    await add();
    const check = form().getByTestId('zone-check');
    await check.waitFor({ timeout: 15_000 });
    expect(await check.textContent()).toMatch(
      new RegExp(`^${closed.replace(/\./g, '\\.')} did not answer \\(E`),
    );
    const row = page.getByTestId('dns-provider-list').locator('tr[data-provider="old-ns"]');
    await row.waitFor();
    expect(await row.getByTestId('settings').textContent()).toContain('tsig_algorithmhmac-sha512');
    expect((await listed()).map((p) => p.name)).toEqual(['home-bind', 'old-ns']);
    await ui.shot('dns-providers-unreachable');
  });

  it('shows each type’s own fields: a Cloudflare token too short, an exec hook with a blind environment', async () => {
    const type = form().getByLabel('Type');
    await type.selectOption('cloudflare');
    expect(await form().getByLabel('Primary server (IP:port)').count()).toBe(0);
    expect(await form().getByLabel('API token (Zone → DNS → Edit)').getAttribute('type')).toBe('password');
    const before = posts.length;
    await fill({ Name: 'cf', Zone: 'example.com', 'API token (Zone → DNS → Edit)': 'short' });
    await add();
    await until(async () => ((await errorOf('API token (Zone → DNS → Edit)')) ? true : undefined), 5_000);
    expect(await errorOf('API token (Zone → DNS → Edit)')).toMatch(/8/);
    expect(posts).toHaveLength(before);

    // An exec hook: a script of the operator's, its environment typed blind and sealed.
    const script = join(await testDir('gh-ui-hook-'), 'dns-hook.sh');
    await writeFile(script, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    await type.selectOption('exec');
    const env = form().getByLabel('Environment for the script (NAME=value, one a line)');
    expect(await env.evaluate((el) => getComputedStyle(el).getPropertyValue('-webkit-text-security'))).toBe(
      'disc',
    );
    await fill({
      Name: 'hook',
      Zone: 'hook.test',
      'Script (absolute path)': script,
      'Environment for the script (NAME=value, one a line)': 'PATH=/tmp',
    });
    await add();
    await until(
      async () => ((await errorOf('Environment for the script (NAME=value, one a line)')) ? true : undefined),
      5_000,
    );
    expect(await errorOf('Environment for the script (NAME=value, one a line)')).toBe(
      'PATH: PATH and GATEHOUSE_* are set by Gatehouse',
    );
    await env.fill('HOOK_API_KEY=hook-secret-4711\nHOOK_USER=ops');
    await add();
    await form().getByText('Added hook for hook.test.').waitFor();
    const row = page.getByTestId('dns-provider-list').locator('tr[data-provider="hook"]');
    const settings = await row.getByTestId('settings').textContent();
    expect(settings).toContain(`command${script}`);
    expect(settings).toContain('timeout_s60');
    expect(settings).toContain('envsealed');
    expect(await page.content()).not.toContain('hook-secret-4711');
    expect((await listed()).find((p) => p.name === 'hook')?.config).toEqual({
      command: script,
      timeout_s: 60,
    });
    await ui.shot('dns-providers-exec');
    await type.selectOption('rfc2136');
  });

  it('removes a provider after a confirmation', async () => {
    const list = page.getByTestId('dns-provider-list');
    await page.getByRole('button', { name: 'Remove DNS provider old-ns' }).click();
    const confirm = page.getByRole('group', { name: 'Confirm removing DNS provider old-ns' });
    await confirm.getByText('Remove old-ns?').waitFor();
    // Backing out keeps it.
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    expect((await listed()).map((p) => p.name)).toEqual(['home-bind', 'hook', 'old-ns']);
    await page.getByRole('button', { name: 'Remove DNS provider old-ns' }).click();
    await confirm.getByRole('button', { name: 'Remove provider' }).click();
    await page.getByTestId('dns-provider-setup').getByText('Removed old-ns.').waitFor();
    await list.locator('tr[data-provider="old-ns"]').waitFor({ state: 'detached' });
    expect((await listed()).map((p) => p.name)).toEqual(['home-bind', 'hook']);

    for (const name of ['home-bind', 'hook']) {
      await page.getByRole('button', { name: `Remove DNS provider ${name}` }).click();
      await page
        .getByRole('group', { name: `Confirm removing DNS provider ${name}` })
        .getByRole('button', { name: 'Remove provider' })
        .click();
      await page.getByTestId('dns-provider-setup').getByText(`Removed ${name}.`).waitFor();
    }
    await page.getByTestId('dns-provider-setup').getByText('No DNS providers yet').waitFor();
    expect(await listed()).toEqual([]);
  });
});
