import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../../src/gate/totp.js';
import { launchChromium } from '../helpers/chromium.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, type TestServer } from '../helpers/net.js';
import { SHOTS } from '../helpers/ui.js';

/**
 * The login portal as a person uses it: Debian's Chromium (which sends Origin with every form post,
 * and follows the portal's referrer policy) on a phone-sized screen, nginx on a high port, every
 * name resolved to loopback by Chromium itself.
 */
describe('portal: sign-in in Chromium', () => {
  let t: TestGatehouse;
  let app: TestServer;
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;
  let secret = '';
  const url = (host: string, path = '/') => `http://${host}:${t.httpPort}${path}`;
  const echoed = async (p: Page) =>
    JSON.parse((await p.locator('body').innerText()) || '{}') as { headers: Record<string, string> };

  const alert = async () => {
    await page.getByRole('alert').waitFor();
    return (await page.getByRole('alert').innerText()).trim();
  };

  beforeAll(async () => {
    t = await startTestGatehouse({ base_domain: 'home.test' });
    app = await echoBackend('app');
    const up = [`127.0.0.1:${app.port}`];
    const put = (name: string, body: unknown) => t.api('PUT', `/api/v1/services/${name}?wait=true`, body);
    expect(
      (await put('wiki', { hosts: ['wiki.home.test'], routes: [{ upstreams: up }], access: { login: {} } }))
        .status,
    ).toBe(201);
    expect(
      (
        await put('photos', {
          hosts: ['photos.home.test'],
          routes: [{ upstreams: up }],
          access: { login: {} },
        })
      ).status,
    ).toBe(201);
    expect(
      (await t.api('POST', '/api/v1/users', { username: 'bob', password: 'bob password 1' })).status,
    ).toBe(201);
    secret = ((await t.api('POST', '/api/v1/users/bob/totp')).json as { secret: string }).secret;
    await mkdir(SHOTS, { recursive: true });
    browser = await launchChromium([`--host-resolver-rules=MAP * 127.0.0.1`]);
    // A phone: the portal must fit it.
    ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    page = await ctx.newPage();
    page.setDefaultTimeout(10_000);
  });
  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await t?.close();
    await app?.close();
  });

  it('redirects to the portal on the same port, and the card fits a phone', async () => {
    await page.goto(url('wiki.home.test', '/page?x=1'));
    const at = new URL(page.url());
    expect(at.host).toBe(`auth.home.test:${t.httpPort}`);
    expect(at.pathname).toBe('/login');
    expect(at.searchParams.get('rd')).toBe(url('wiki.home.test', '/page?x=1'));
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const card = await page.locator('main').boundingBox();
    expect(card).not.toBeNull();
    expect(card!.x).toBeGreaterThanOrEqual(0);
    expect(card!.x + card!.width).toBeLessThanOrEqual(390);
    // Nothing scrolls sideways.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(SHOTS, 'portal-phone.png'), fullPage: true });
  });

  it('shows a wrong password as an error, then asks for the TOTP code and goes back', async () => {
    await page.getByLabel('Username').fill('bob');
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    expect(await alert()).toBe('Wrong username or password.');

    await page.getByLabel('Password').fill('bob password 1');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Verification code' }).waitFor();
    await page.getByLabel('Code').fill('000000');
    await page.getByRole('button', { name: 'Verify' }).click();
    expect(await alert()).toBe('That code is not right. Try the next one.');
    await page.getByLabel('Code').fill(totpCode(secret));
    await page.getByRole('button', { name: 'Verify' }).click();

    await page.waitForURL(url('wiki.home.test', '/page?x=1'));
    const seen = await echoed(page);
    expect(seen.headers['remote-user']).toBe('bob');
    // The session cookie stays with the gate.
    expect(seen.headers.cookie ?? '').not.toContain('gh_session');
  });

  it('signs in to a second guarded host without asking again', async () => {
    await page.goto(url('photos.home.test', '/album'));
    expect(page.url()).toBe(url('photos.home.test', '/album'));
    expect((await echoed(page)).headers['remote-user']).toBe('bob');
  });

  it('fits the two-step set-up page (QR code, a long key) on the phone too', async () => {
    await page.goto(url('auth.home.test', '/totp'));
    await page.getByRole('heading', { name: 'Set up two-step sign-in' }).waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(SHOTS, 'portal-phone-totp.png'), fullPage: true });
  });

  it('signs out, after which guarded hosts send the browser to the portal again', async () => {
    await page.goto(url('wiki.home.test', '/.gatehouse/logout'));
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Signed out' }).waitFor();
    for (const host of ['wiki.home.test', 'photos.home.test']) {
      await page.goto(url(host, '/again'));
      const at = new URL(page.url());
      expect(at.host).toBe(`auth.home.test:${t.httpPort}`);
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    }
  });
});
