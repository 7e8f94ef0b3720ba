import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { totpCode } from '../../src/gate/totp.js';
import { defaultUiDir } from '../../src/api/ui.js';
import { launchChromium } from './chromium.js';
import { startTestGatehouse, type TestGatehouse } from './gatehouse.js';

/** Where the UI tests keep their screenshots (CI keeps them as artifacts). */
export const SHOTS = join(process.cwd(), 'test-results', 'screenshots');

export interface UiHarness {
  t: TestGatehouse;
  browser: Browser;
  page: Page;
  /** The management API's origin, which serves the UI at `/`. */
  base: string;
  /** The admin user's TOTP secret. */
  secret: string;
  username: string;
  password: string;
  /** Signs `page` in through the sign-in page (password, then a TOTP code) and waits for the dashboard. */
  signIn(page?: Page): Promise<void>;
  /** A full-page screenshot kept under test-results/screenshots/<name>.png. */
  shot(name: string, page?: Page): Promise<void>;
  /** In the service editor: Review changes, Save changes, and wait for "Saved as version". */
  saveService(page?: Page): Promise<void>;
  close(): Promise<void>;
}

/**
 * A Gatehouse (real nginx) with an admin user enrolled in TOTP, and Debian's Chromium on a fresh
 * page of desktop size. Builds the UI first when the checkout has no build.
 */
export async function startUi(extra: Record<string, unknown> = {}): Promise<UiHarness> {
  const dir = defaultUiDir();
  if (!existsSync(join(dir, 'index.html')))
    execFileSync('npm', ['run', 'build:ui'], { stdio: 'ignore', timeout: 120_000 });
  await mkdir(SHOTS, { recursive: true });
  const t = await startTestGatehouse(extra);
  const username = 'root';
  const password = 'root password 1';
  await t.api('POST', '/api/v1/users', { username, password, role: 'admin' });
  const secret = ((await t.api('POST', `/api/v1/users/${username}/totp`)).json as { secret: string }).secret;
  const base = `http://127.0.0.1:${t.apiPort}`;
  let browser: Browser;
  try {
    browser = await launchChromium();
  } catch (err) {
    await t.close();
    throw err;
  }
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  page.setDefaultTimeout(10_000);
  let lastCode = '';
  return {
    t,
    browser,
    page,
    base,
    secret,
    username,
    password,
    async signIn(p = page) {
      await p.goto(base + '/');
      await p.getByLabel('Username').fill(username);
      await p.getByLabel('Password').fill(password);
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.getByLabel('Authenticator code').waitFor();
      // A code works once: a second sign-in in the same 30 s waits for the next one.
      let code = totpCode(secret);
      while (code === lastCode) {
        await new Promise((r) => setTimeout(r, 500));
        code = totpCode(secret);
      }
      lastCode = code;
      await p.getByLabel('Authenticator code').fill(code);
      await p.keyboard.press('Enter');
      await p.getByRole('heading', { name: 'Dashboard' }).waitFor();
    },
    async saveService(p = page) {
      await p.getByRole('button', { name: 'Review changes' }).click();
      await p.getByRole('button', { name: 'Save changes' }).click();
      await p
        .getByRole('status')
        .filter({ hasText: /Saved as version/ })
        .waitFor();
    },
    async shot(name, p = page) {
      await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
    },
    async close() {
      await browser.close().catch(() => undefined);
      await t.close();
    },
  };
}
