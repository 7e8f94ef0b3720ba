import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Fastify from 'fastify';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../../src/gate/totp.js';
import { uiRoutes } from '../../src/api/ui.js';
import type { TestGatehouse } from '../helpers/gatehouse.js';
import { freePort, startServer, until, type TestServer } from '../helpers/net.js';
import { testDir } from '../helpers/tmp.js';
import { SHOTS, startUi, type UiHarness } from '../helpers/ui.js';

/** The web UI in a real browser: sign-in with TOTP, the live dashboard, services, sign-out. */
describe('web UI', () => {
  let ui: UiHarness;
  let t: TestGatehouse;
  let app: TestServer;
  let page: Page;
  let base: string;
  let healthy = true;
  let secret: string;
  const requested: string[] = [];

  beforeAll(async () => {
    ui = await startUi();
    ({ t, page, base, secret } = ui);
    // Works offline: no font, script or style from anywhere but the API's own origin.
    page.on('request', (r) => requested.push(r.url()));
    app = await startServer(
      (req, res) => {
        res.writeHead(req.url === '/health' && !healthy ? 503 : 200);
        res.end('app');
      },
      await freePort(),
    );
    // The management API serves the UI at its root, without a token (the UI signs in itself).
    const served = await fetch(`${base}/`);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toMatch(/^text\/html/);
  });
  afterAll(async () => {
    await ui?.close();
    await app?.close();
  });

  it('signs in with password, then the TOTP code the API asks for', async () => {
    await page.goto(base + '/');
    await page.getByLabel('Username').fill('root');
    await page.getByLabel('Password').fill('wrong password 1');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/wrong username or password/);
    await page.getByLabel('Password').fill('root password 1');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const code = page.getByLabel('Authenticator code');
    await code.waitFor();
    // The code field takes the focus: the keyboard goes on without a click.
    expect(await code.evaluate((el) => el === document.activeElement)).toBe(true);
    await page.screenshot({ path: join(SHOTS, 'sign-in.png') });
    await page.keyboard.type(totpCode(secret));
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.getByTestId('live').filter({ hasText: 'live' }).waitFor();
    expect(await page.getByTestId('count-services').textContent()).toContain('0');
  });

  it('creates a service in the form, with the API’s field errors next to the fields', async () => {
    await page.getByRole('link', { name: 'Services' }).click();
    await page.getByRole('heading', { name: 'Services' }).waitFor();
    await page.getByLabel('Name').fill('webui');
    await page.getByLabel('Host').fill('webui.test');
    await page.getByLabel('Upstream').fill('not an address');
    await page.getByRole('button', { name: 'Create service' }).click();
    const upstreamError = page.locator('[aria-invalid="true"][name="upstream"]');
    await upstreamError.waitFor();
    expect(await page.getByRole('alert').first().textContent()).toBeTruthy();
    await page.getByLabel('Upstream').fill(`127.0.0.1:${app.port}`);
    await page.getByRole('button', { name: 'Create service' }).click();
    await page.getByRole('status').filter({ hasText: 'Created webui' }).waitFor();
    await page.getByTestId('services').getByText('webui.test').waitFor();
    expect((await t.get('webui.test')).status).toBe(200);
    await page.getByLabel('Filter').fill('nothing-like-it');
    await page.getByText('No service matches.').waitFor();
    await page.getByLabel('Filter').fill('api:');
    await page.getByTestId('services').getByText('webui').first().waitFor();
    await page.screenshot({ path: join(SHOTS, 'services.png'), fullPage: true });
  });

  it('shows an upstream going down live, without a reload', async () => {
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page.getByTestId('live').filter({ hasText: 'live' }).waitFor();
    await t.api('PUT', '/api/v1/services/watched?wait=true', {
      hosts: ['watched.test'],
      routes: [
        {
          upstreams: [`127.0.0.1:${app.port}`],
          health: { path: '/health', interval: '200ms', timeout: '500ms' },
        },
      ],
    });
    // The `version` event re-reads the counts.
    await expect.poll(() => page.getByTestId('count-services').textContent()).toContain('2');
    await until(
      () => t.gh.edge.getStatus().checkedServers.some((s) => s.startsWith('watched-r0 ')) || undefined,
      5_000,
    );
    healthy = false;
    const t0 = Date.now();
    await page
      .getByTestId('down-list')
      .getByText(/watched-r0/)
      .waitFor({ timeout: 5_000 });
    const ms = Date.now() - t0;
    // The health check's interval and its failure, then an `edge` event: well within ~1 s.
    expect(ms).toBeLessThan(1_500);
    expect(await page.getByTestId('count-down').textContent()).toContain('1');
    // watched fails its check; webui has none, so nothing says it is healthy.
    expect(await page.getByTestId('count-services').textContent()).toContain('1 failing, 1 not checked');
    // The backups card loaded its answer: no error in it (it once asked /api/v1/api/v1/backups).
    const backups = page.getByTestId('backups');
    await expect
      .poll(() => backups.textContent())
      .toContain('No backup made by this Gatehouse since it started.');
    expect(await backups.getByRole('alert').count()).toBe(0);
    expect(await backups.textContent()).not.toContain('no such endpoint');
    await page.screenshot({ path: join(SHOTS, 'dashboard.png'), fullPage: true });
    // A phone's width: the same page, one column of cards per two.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(SHOTS, 'dashboard-phone.png'), fullPage: true });
    await page.setViewportSize({ width: 1200, height: 800 });
    healthy = true;
  });

  it('creates a temporary link, which admits its opener until it is revoked', async () => {
    await t.api('PUT', '/api/v1/services/shared?wait=true', {
      hosts: ['shared.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
      access: { links: true },
    });
    const from = { localAddress: '127.0.0.51', headers: { accept: 'text/html' } };
    expect((await t.get('shared.test', '/', from)).status).toBe(403);
    await page.getByRole('link', { name: 'Links' }).click();
    await page.getByRole('heading', { name: 'Links', exact: true }).waitFor();
    // Only services whose routes take links are offered.
    await page.getByLabel('Service').locator('option', { hasText: 'shared' }).waitFor({ state: 'attached' });
    expect(await page.getByLabel('Service').locator('option').allTextContents()).toEqual(['shared']);
    // The API's own words for a bad field.
    await page.getByLabel('Lifetime').fill('forever');
    await page.getByRole('button', { name: 'Create link' }).click();
    await expect.poll(() => page.getByRole('alert').first().textContent()).toMatch(/ttl/);
    await page.getByLabel('Lifetime').fill('1h');
    await page.getByLabel('Addresses (max)').fill('2');
    await page.getByLabel('Note').fill('for the e2e test');
    await page.getByLabel('Bandwidth (optional)').fill('2m');
    await page.getByRole('button', { name: 'Create link' }).click();
    const url = new URL(await page.getByLabel('Link URL').inputValue());
    // On the proxy's own port (a high one here), not the default one where nothing listens.
    expect(url.host).toBe(`shared.test:${t.httpPort}`);
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByText(/Copied\.|Selected:/).waitFor();
    const row = page.getByTestId('links').locator('tr', { hasText: 'for the e2e test' });
    await row.waitFor();
    const open = await t.get(url.hostname, url.pathname, from);
    expect(open.status).toBe(303);
    expect((await t.get('shared.test', '/', from)).status).toBe(200);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await row.getByText('127.0.0.51').waitFor();
    expect(await row.textContent()).toContain('1 / 2');
    expect(await row.textContent()).toContain('at 2m/s each');
    // The link's usage log: who opened it, from where, and what came of it.
    await row.getByRole('button', { name: /^Usage/ }).click();
    const uses = page.getByTestId('link-uses');
    await uses.getByText('127.0.0.51').waitFor();
    expect(await uses.locator('tbody tr').count()).toBe(1);
    // The dashboard counts the addresses links admit now.
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await expect.poll(() => page.getByTestId('count-links').textContent()).toMatch(/^Link clients1/);
    await page.getByRole('link', { name: 'Links' }).click();
    await row.waitFor();
    await page.screenshot({ path: join(SHOTS, 'links.png'), fullPage: true });
    await row.getByRole('button', { name: /^Revoke/ }).click();
    // A second step: Cancel keeps the link.
    await row.getByRole('button', { name: 'Cancel' }).click();
    expect((await t.get('shared.test', '/', from)).status).toBe(200);
    await row.getByRole('button', { name: /^Revoke/ }).click();
    await row.getByRole('button', { name: 'Confirm revoke' }).click();
    await row.getByText('revoked').waitFor();
    expect((await t.get('shared.test', '/', from)).status).toBe(403);
    expect((await t.get(url.host, url.pathname, from)).status).toBe(410);
  });

  it('shows a version’s diff and rolls back to it, which the proxy serves again', async () => {
    const put = async (hosts: string[]) =>
      (
        await t.api('PUT', '/api/v1/services/snap?wait=true', {
          hosts,
          routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
        })
      ).json as unknown as { version: number };
    const before = await put(['snap.test']);
    await put(['snap-moved.test']);
    expect((await t.get('snap.test')).status).not.toBe(200);
    await page.getByRole('link', { name: 'Snapshots' }).click();
    await page.getByRole('heading', { name: 'Snapshots', exact: true }).waitFor();
    await page.getByRole('button', { name: `Version ${before.version}`, exact: true }).click();
    const diff = page.getByTestId('diff');
    // From that version to the current one: its host went, the new one came.
    await diff.getByText(/^-\s+- snap\.test$/).waitFor();
    await diff.getByText(/^\+\s+- snap-moved\.test$/).waitFor();
    await page.getByRole('button', { name: 'Roll back to this version' }).click();
    // A confirmation step: Cancel leaves everything as it was.
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('button', { name: 'Roll back to this version' }).click();
    await page.screenshot({ path: join(SHOTS, 'snapshots.png'), fullPage: true });
    await page.getByRole('button', { name: 'Confirm rollback' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: new RegExp(`Rolled back to version ${before.version}: .* version \\d+`) })
      .waitFor();
    expect((await t.get('snap.test')).status).toBe(200);
    expect((await t.get('snap-moved.test')).status).not.toBe(200);
    // The new version is in the list, marked current.
    const current = (await t.api('GET', '/api/v1/snapshots')).json as unknown as { version: number };
    const newest = page.getByTestId('snapshots').locator('tr', { hasText: `Version ${current.version}` });
    await newest.getByText('(current)').waitFor();
    expect(await newest.textContent()).toContain(`rollback to version ${before.version}`);
  });

  it('shows the audit log: who changed what, how, and who was refused', async () => {
    // A refused attempt: a change with a wrong token.
    const refused = await fetch(`${base}/api/v1/services/webui`, {
      method: 'DELETE',
      headers: { authorization: 'Bearer wrong' },
    });
    expect(refused.status).toBe(401);
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    const audit = page.getByTestId('audit');
    const rowOf = (text: string) => audit.locator('tr', { hasText: text }).first();
    await rowOf('saved service webui').waitFor();
    expect(await rowOf('saved service webui').textContent()).toContain('root');
    expect(await rowOf('saved service webui').textContent()).toContain('session');
    expect(await rowOf('signed in').textContent()).toContain('root');
    expect(await rowOf('revoked link').textContent()).toContain('root');
    expect(await rowOf('deleted service webui').textContent()).toMatch(/refused \(401\)/);
    // Changes made with the admin token (the test's set-up) are the admin's.
    expect(await rowOf('created user').textContent()).toContain('admin');
    await page.getByLabel('User').fill('root');
    await page.getByRole('button', { name: 'Show' }).click();
    await expect.poll(() => audit.getByText('created user').count()).toBe(0);
    expect(await audit.getByText('saved service webui').count()).toBe(1);
    await page.screenshot({ path: join(SHOTS, 'audit.png'), fullPage: true });
    // The last day's tallies on the dashboard: the link opened once.
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await expect.poll(() => page.getByTestId('tally-links').textContent()).toBe('Links used: 1');
    // Each security event says what it was about: the visit refused before the link, and the
    // link's use, both at shared.test/ (never the link's token).
    const where = page.getByTestId('events').getByTestId('event-where');
    await expect
      .poll(async () => (await where.allTextContents()).filter((w) => w === 'shared.test/').length)
      .toBeGreaterThanOrEqual(2);
    expect((await where.allTextContents()).join(' ')).not.toMatch(/token|\?/);
  });

  it('loaded nothing from anywhere but its own origin (it must work offline)', () => {
    expect(requested.length).toBeGreaterThan(10);
    expect(requested.filter((u) => !u.startsWith(base + '/') && !u.startsWith('data:'))).toEqual([]);
  });

  it('signs out: the cookie no longer reads the API', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Gatehouse' }).waitFor();
    const status = await page.evaluate(async () => (await fetch('/api/v1/services')).status);
    expect(status).toBe(401);
  });
});

/** Serving the build: content types, the SPA fallback, no way out of the folder, no build at all. */
describe('uiRoutes', () => {
  it('serves files, falls back to index.html, refuses traversal and API paths', async () => {
    const dir = await testDir('gh-ui-');
    await mkdir(join(dir, 'dist', 'assets'), { recursive: true });
    await writeFile(join(dir, 'dist', 'index.html'), '<!doctype html><title>ui</title>');
    await writeFile(join(dir, 'dist', 'assets', 'a-1.js'), 'export {}');
    await writeFile(join(dir, 'secret.txt'), 'TOP-SECRET-CONTENT');
    const app = Fastify({ logger: false });
    await uiRoutes(app, join(dir, 'dist'));
    const none = Fastify({ logger: false });
    await uiRoutes(none, join(dir, 'missing'));
    try {
      const get = (url: string) => app.inject({ method: 'GET', url });
      const root = await get('/');
      expect(root.statusCode).toBe(200);
      expect(root.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(root.headers['cache-control']).toBe('no-cache');
      const js = await get('/assets/a-1.js');
      expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
      expect(js.headers['cache-control']).toContain('immutable');
      expect((await get('/services')).body).toContain('<title>ui</title>');
      expect((await get('/assets/missing.js')).statusCode).toBe(404);
      for (const url of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/%00'])
        expect((await get(url)).body).not.toContain('TOP-SECRET');
      expect((await get('/api/v1/nope')).statusCode).toBe(404);
      const missing = await none.inject({ method: 'GET', url: '/' });
      expect(missing.statusCode).toBe(503);
      expect(missing.body).toContain('npm run build:ui');
    } finally {
      await app.close();
      await none.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
