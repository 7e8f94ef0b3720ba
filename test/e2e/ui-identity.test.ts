import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../../src/gate/totp.js';
import { Browser } from '../helpers/browser.js';
import type { TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, type TestServer } from '../helpers/net.js';
import { startUi, type UiHarness } from '../helpers/ui.js';

const PORTAL = 'auth.gw.test';

interface User {
  username: string;
  role: string;
  groups: string[];
  totp: boolean;
  disabled: boolean;
  managed_by: string;
}

/**
 * The web UI's users, groups, sessions and sign-in providers in a real browser, each change checked
 * where it matters: the API's state, the login portal, the UI's own sign-in with TOTP.
 */
describe('web UI: users, groups, providers', () => {
  let ui: UiHarness;
  let t: TestGatehouse;
  let page: Page;
  let base: string;
  let app: TestServer;
  /** alice's portal session, made once she exists. */
  let alice: Browser;

  const user = async (name: string) => {
    const r = await t.api('GET', `/api/v1/users/${name}`);
    return r.status === 200 ? (r.json as unknown as User) : undefined;
  };
  const userCount = async () =>
    ((await t.api('GET', '/api/v1/users')).json as { users: unknown[] }).users.length;
  const createForm = () => page.getByRole('form', { name: 'New user' });
  const row = (testId: string, text: string) => page.getByTestId(testId).locator('tr', { hasText: text });
  /** The message an invalid field points at with aria-describedby, if it is marked invalid. */
  const fieldError = async (field: Locator) => {
    if ((await field.getAttribute('aria-invalid')) !== 'true') return undefined;
    const id = await field.getAttribute('aria-describedby');
    const msg = page.locator(`[id="${id}"]`);
    expect(await msg.getAttribute('role')).toBe('alert');
    return msg.textContent();
  };
  const openEditor = async (name: string) => {
    await page.getByRole('button', { name: `Edit ${name}`, exact: true }).click();
    const editor = page.getByRole('region', { name: `Edit user ${name}` });
    await editor.waitFor();
    return editor;
  };

  beforeAll(async () => {
    ui = await startUi();
    ({ t, page, base } = ui);
    app = await echoBackend('app');
    // A route only the family may pass: what a user made in the UI should reach.
    expect(
      (
        await t.api('PUT', '/api/v1/services/wiki?wait=true', {
          hosts: ['wiki.gw.test'],
          routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
          access: { login: { groups: ['family'] } },
        })
      ).status,
    ).toBe(201);
    await ui.signIn();
  });
  afterAll(async () => {
    await ui?.close();
    await app?.close();
  });

  it('creates a group and a user in it, who signs in at the portal and passes the group’s route', async () => {
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('heading', { name: 'Users', exact: true }).waitFor();
    // The signed-in admin is in the list, marked.
    await row('users', 'root').getByText('(you)').waitFor();

    await page.getByLabel('Group name').fill('family');
    await page.getByLabel('Description').fill('the household');
    await page.getByRole('button', { name: 'Create group' }).click();
    await page.getByRole('status').filter({ hasText: 'Created group family.' }).waitFor();
    await row('groups', 'family').getByText('the household').waitFor();

    const form = createForm();
    await form.getByLabel('Username').fill('alice');
    await form.getByLabel('Password').fill('alice password 1');
    await form.getByRole('checkbox', { name: 'family', exact: true }).check();
    await form.getByRole('button', { name: 'Create user' }).click();
    await form.getByRole('status').filter({ hasText: 'Created alice.' }).waitFor();
    // The form is empty again; the list shows her with her group.
    expect(await form.getByLabel('Username').inputValue()).toBe('');
    const aliceRow = row('users', 'alice');
    await aliceRow.getByText('family').waitFor();
    expect(await aliceRow.textContent()).toContain('off');

    expect(await user('alice')).toMatchObject({
      role: 'user',
      groups: ['family'],
      totp: false,
      disabled: false,
    });
    await row('groups', 'family').getByText('alice').waitFor();

    // She signs in at the portal and reaches the route only the family may pass.
    alice = new Browser(t.httpPort);
    const signIn = await alice.post(PORTAL, '/login', {
      username: 'alice',
      password: 'alice password 1',
      rd: 'http://wiki.gw.test/',
    });
    expect(signIn.status).toBe(303);
    expect(signIn.headers.location).toBe('http://wiki.gw.test/');
    expect((await alice.get('wiki.gw.test')).status).toBe(200);
    await ui.shot('users');
  });

  it('shows the API’s message next to a bad field and creates nothing', async () => {
    const before = await userCount();
    const form = createForm();
    const username = form.getByLabel('Username');
    const password = form.getByLabel('Password');
    await username.fill('Bad Name');
    await password.fill('short');
    await form.getByRole('button', { name: 'Create user' }).click();
    await expect.poll(() => fieldError(username)).toMatch(/lowercase letters, digits/);
    expect(await fieldError(password)).toBe('at least 8 characters');
    // A good username: only the password is wrong now, and still nobody is created.
    await username.fill('bob');
    await form.getByRole('button', { name: 'Create user' }).click();
    // (The submit clears both messages; the answer brings back only the password's.)
    await expect
      .poll(async () => [await fieldError(username), await fieldError(password)])
      .toEqual([undefined, 'at least 8 characters']);
    expect(await user('bob')).toBeUndefined();
    expect(await userCount()).toBe(before);
    await username.fill('');
    await password.fill('');
  });

  it('creates an admin with the keyboard alone (Tab, arrows, Space, Enter)', async () => {
    const form = createForm();
    await form.getByLabel('Username').focus();
    await page.keyboard.type('carol');
    await page.keyboard.press('Tab');
    expect(await form.getByLabel('Password').evaluate((el) => el === document.activeElement)).toBe(true);
    await page.keyboard.type('carol password 1');
    await page.keyboard.press('Tab');
    expect(await form.getByLabel('Role').evaluate((el) => el === document.activeElement)).toBe(true);
    await page.keyboard.press('ArrowDown');
    expect(await form.getByLabel('Role').inputValue()).toBe('admin');
    await page.keyboard.press('Tab');
    expect(
      await form.getByRole('checkbox', { name: 'family' }).evaluate((el) => el === document.activeElement),
    ).toBe(true);
    await page.keyboard.press('Space');
    // On to the submit button, by Tab only.
    const submit = form.getByRole('button', { name: 'Create user' });
    for (let i = 0; i < 5 && !(await submit.evaluate((el) => el === document.activeElement)); i++)
      await page.keyboard.press('Tab');
    expect(await submit.evaluate((el) => el === document.activeElement)).toBe(true);
    await page.keyboard.press('Enter');
    await form.getByRole('status').filter({ hasText: 'Created carol.' }).waitFor();
    expect(await user('carol')).toMatchObject({ role: 'admin', groups: ['family'], totp: false });
  });

  it('enrols TOTP with a QR code and a secret that signs the new admin in to the UI', async () => {
    const editor = await openEditor('carol');
    // The keyboard lands in the editor it opened.
    expect(
      await editor
        .getByRole('heading', { name: 'Edit user carol' })
        .evaluate((el) => el === document.activeElement),
    ).toBe(true);
    await editor.getByRole('button', { name: 'Enrol TOTP' }).click();
    const qr = editor.getByRole('img', { name: /QR code to add carol to an authenticator app/ });
    await qr.waitFor();
    expect(await qr.getAttribute('src')).toMatch(/^data:image\/svg\+xml/);
    expect(await qr.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
    const secret = await editor.getByLabel('Secret (for manual entry)').inputValue();
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    const codes = await editor
      .getByRole('list', { name: /Recovery codes/ })
      .getByRole('listitem')
      .allTextContents();
    expect(codes).toHaveLength(10);
    await row('users', 'carol').getByText('on').waitFor();
    expect((await user('carol'))?.totp).toBe(true);
    await ui.shot('users-totp');

    // carol signs in to the UI in a browser of her own, with the code her app makes from the secret.
    const other = await ui.browser.newContext({ viewport: { width: 1000, height: 800 } });
    try {
      const p2 = await other.newPage();
      p2.setDefaultTimeout(10_000);
      await p2.goto(base + '/');
      await p2.getByLabel('Username').fill('carol');
      await p2.getByLabel('Password').fill('carol password 1');
      await p2.getByRole('button', { name: 'Sign in' }).click();
      await p2.getByLabel('Authenticator code').fill(totpCode(secret));
      await p2.keyboard.press('Enter');
      await p2.getByRole('heading', { name: 'Dashboard' }).waitFor();
      expect(await p2.evaluate(async () => (await fetch('/api/v1/session')).status)).toBe(200);

      // Her session shows among the sessions; revoking it (after a confirmation) signs her out.
      await page.getByRole('button', { name: 'Refresh' }).last().click();
      const session = row('sessions', 'carol');
      await session.waitFor();
      expect(await session.textContent()).toContain('this UI');
      await session.getByRole('button', { name: /^Revoke session of carol/ }).click();
      await session.getByRole('button', { name: 'Revoke session' }).click();
      await page.getByRole('status').filter({ hasText: 'Revoked a session of carol.' }).waitFor();
      await session.waitFor({ state: 'detached' });
      expect(await p2.evaluate(async () => (await fetch('/api/v1/session')).status)).toBe(401);
    } finally {
      await other.close();
    }

    // Removing the second factor asks first.
    await editor.getByRole('button', { name: 'Done, hide the secret' }).click();
    expect(await editor.getByLabel('Secret (for manual entry)').count()).toBe(0);
    await editor.getByRole('button', { name: 'Remove TOTP' }).click();
    const confirm = editor.getByRole('group', { name: 'Confirm removing TOTP' });
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    expect((await user('carol'))?.totp).toBe(true);
    await editor.getByRole('button', { name: 'Remove TOTP' }).click();
    await confirm.getByRole('button', { name: 'Remove TOTP' }).click();
    await editor.getByRole('status').filter({ hasText: 'TOTP is off for carol' }).waitFor();
    expect((await user('carol'))?.totp).toBe(false);
  });

  it('fits a phone’s width: nothing but the tables scrolls sideways', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await page.getByRole('region', { name: 'Edit user carol' }).waitFor();
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await ui.shot('users-phone');
    } finally {
      await page.setViewportSize({ width: 1200, height: 800 });
    }
  });

  it('changes a user’s groups and role, disables and deletes a user after a confirmation', async () => {
    // carol leaves the family and becomes a plain user.
    let editor = page.getByRole('region', { name: 'Edit user carol' });
    await editor.getByLabel('Role').selectOption('user');
    await editor.getByRole('checkbox', { name: 'family' }).uncheck();
    await editor.getByRole('button', { name: 'Save changes' }).click();
    await editor.getByRole('status').filter({ hasText: 'Saved carol.' }).waitFor();
    expect(await user('carol')).toMatchObject({ role: 'user', groups: [] });
    await editor.getByRole('button', { name: 'Close' }).click();

    // Disabling alice ends her portal session at once and stops her signing in.
    editor = await openEditor('alice');
    await editor.getByLabel(/^Disabled/).check();
    await editor.getByRole('button', { name: 'Save changes' }).click();
    await editor.getByRole('status').filter({ hasText: 'Saved alice. Their sessions have ended.' }).waitFor();
    await row('users', 'alice').getByText('disabled').waitFor();
    expect((await user('alice'))?.disabled).toBe(true);
    expect((await alice.get('wiki.gw.test')).status).toBe(302);
    const again = await new Browser(t.httpPort).post(PORTAL, '/login', {
      username: 'alice',
      password: 'alice password 1',
      rd: '',
    });
    expect(again.status).toBe(401);

    // Deleting asks first; Cancel keeps her.
    await editor.getByRole('button', { name: 'Delete user…' }).click();
    const confirm = editor.getByRole('group', { name: 'Confirm deleting the user' });
    // The focus is on the way back: a second Enter does not delete.
    expect(
      await confirm.getByRole('button', { name: 'Cancel' }).evaluate((el) => el === document.activeElement),
    ).toBe(true);
    await page.keyboard.press('Enter');
    await confirm.waitFor({ state: 'detached' });
    expect(await user('alice')).toBeDefined();
    await editor.getByRole('button', { name: 'Delete user…' }).click();
    await confirm.getByRole('button', { name: 'Delete alice' }).click();
    await page.getByRole('status').filter({ hasText: 'Deleted alice.' }).waitFor();
    await row('users', 'alice').waitFor({ state: 'detached' });
    expect(await user('alice')).toBeUndefined();
  });

  it('shows which edge file manages a user', async () => {
    const applied = await t.api('POST', '/api/v1/apply', {
      owner: 'people.yaml',
      document: JSON.stringify({ users: [{ username: 'frank' }] }),
    });
    expect(applied.status).toBe(200);
    // Refresh reads the list again (the request is what the click must make).
    await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/v1/users') && r.status() === 200),
      page.getByRole('button', { name: 'Refresh' }).first().click(),
    ]);
    await row('users', 'frank').getByText('file: people.yaml').waitFor();
    const editor = await openEditor('frank');
    await editor.getByText(/Managed by the edge file people\.yaml/).waitFor();
    expect((await user('frank'))?.managed_by).toBe('people.yaml');
    await editor.getByRole('button', { name: 'Close' }).click();
    // The keyboard is back on the button that opened it.
    const edit = page.getByRole('button', { name: 'Edit frank', exact: true });
    await expect.poll(() => edit.evaluate((el) => el === document.activeElement)).toBe(true);
  });

  it('deletes a group after a confirmation', async () => {
    await t.api('POST', '/api/v1/groups', { name: 'temp' });
    await page.getByRole('button', { name: 'Refresh' }).first().click();
    const temp = row('groups', 'temp');
    await temp.getByRole('button', { name: 'Delete group temp' }).click();
    await temp.getByRole('button', { name: 'Cancel' }).click();
    await temp.getByRole('button', { name: 'Delete group temp' }).click();
    await temp.getByRole('button', { name: 'Delete group', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Deleted group temp.' }).waitFor();
    const groups = (await t.api('GET', '/api/v1/groups')).json as { groups: { name: string }[] };
    expect(groups.groups.map((g) => g.name)).toEqual(['family']);
  });

  it('adds an OIDC provider, which the portal offers, never shows its secret, and deletes it', async () => {
    const portalPage = async () => (await new Browser(t.httpPort).get(PORTAL, '/login')).body;
    const providers = async () =>
      ((await t.api('GET', '/api/v1/providers')).json as { providers: { name: string }[] }).providers;
    await page.getByRole('link', { name: 'Providers' }).click();
    await page.getByRole('heading', { name: 'Sign-in providers' }).waitFor();
    await page.getByText('No providers').waitFor();

    const issuer = page.getByLabel('Issuer URL');
    await page.getByLabel('Name', { exact: true }).fill('corp');
    await page.getByLabel('Button label (optional)').fill('Corp SSO');
    await issuer.fill('not a url');
    await page.getByLabel('Client ID').fill('gatehouse-client');
    await page.getByLabel('Client secret').fill('very-secret-client-value');
    await page.getByLabel(/^Group map/).fill('engineers=family');
    await page.getByRole('button', { name: 'Add provider' }).click();
    await expect.poll(() => fieldError(issuer)).toMatch(/an http\(s\) URL/);
    expect(await providers()).toEqual([]);

    await issuer.fill('https://id.example.test/realms/corp');
    await page.getByRole('button', { name: 'Add provider' }).click();
    await page.getByRole('status').filter({ hasText: 'Added corp' }).waitFor();
    const listed = row('providers', 'corp');
    await listed.getByText('engineers → family').waitFor();
    expect(await listed.textContent()).toContain('https://id.example.test/realms/corp');
    // The secret left the form and shows nowhere; the API keeps it sealed.
    expect(await page.getByLabel('Client secret').inputValue()).toBe('');
    expect(await page.content()).not.toContain('very-secret-client-value');
    expect(await providers()).toMatchObject([
      {
        name: 'corp',
        label: 'Corp SSO',
        client_id: 'gatehouse-client',
        scopes: ['openid', 'email', 'profile', 'groups'],
        group_map: { engineers: 'family' },
      },
    ]);
    expect(JSON.stringify(await providers())).not.toContain('very-secret');
    expect(await portalPage()).toContain('Sign in with Corp SSO');
    await ui.shot('providers');
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    } finally {
      await page.setViewportSize({ width: 1200, height: 800 });
    }

    await listed.getByRole('button', { name: 'Delete provider corp' }).click();
    await listed.getByRole('button', { name: 'Cancel' }).click();
    expect(await providers()).toHaveLength(1);
    await listed.getByRole('button', { name: 'Delete provider corp' }).click();
    await listed.getByRole('button', { name: 'Delete provider', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Deleted corp' }).waitFor();
    expect(await providers()).toEqual([]);
    expect(await portalPage()).not.toContain('Sign in with Corp SSO');
  });
});
