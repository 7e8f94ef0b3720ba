import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultUiDir } from '../../src/api/ui.js';
import { launchChromium } from '../helpers/chromium.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { json } from '../helpers/net.js';
import { SHOTS } from '../helpers/ui.js';

/** A fresh Gatehouse in Chromium: the sign-in page tells how to make the first admin, until one exists. */
describe('web UI: first run', () => {
  let t: TestGatehouse;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    if (!existsSync(join(defaultUiDir(), 'index.html')))
      execFileSync('npm', ['run', 'build:ui'], { stdio: 'ignore', timeout: 120_000 });
    await mkdir(SHOTS, { recursive: true });
    t = await startTestGatehouse();
    base = `http://127.0.0.1:${t.apiPort}`;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('shows the first-admin command while no admin exists, and tells nothing more', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 800 } });
    await page.goto(base + '/');
    const hint = page.getByText('No admin user yet.');
    await hint.waitFor();
    expect(await hint.textContent()).toContain('gatehouse user add NAME --admin');
    await page.screenshot({ path: join(SHOTS, 'sign-in-first-run.png') });
    // Signed out, the API answers only that: no names, no paths.
    const r = await json(t.apiPort, 'GET', '/api/v1/session');
    expect(r.status).toBe(401);
    expect(r.json).toEqual({ error: { code: 'unauthorized', message: 'not signed in', setup_needed: true } });

    // A user who is not an admin does not end the first run; an admin does.
    await t.api('POST', '/api/v1/users', { username: 'ann', password: 'ann password 1' });
    await page.reload();
    await page.getByText('No admin user yet.').waitFor();
    await t.api('POST', '/api/v1/users', { username: 'root', password: 'root password 1', role: 'admin' });
    await page.reload();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await page.waitForLoadState('networkidle');
    expect(await page.getByText('No admin user yet.').count()).toBe(0);
    expect((await json(t.apiPort, 'GET', '/api/v1/session')).json).toEqual({
      error: { code: 'unauthorized', message: 'not signed in' },
    });
    await page.close();
  });
});
