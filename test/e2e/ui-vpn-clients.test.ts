import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VpnClientList, VpnGroupList } from '../../src/api/views/index.js';
import { generateKeyPair } from '../../src/vpn/keys.js';
import type { TestGatehouse } from '../helpers/gatehouse.js';
import { SHOTS, startUi, type UiHarness } from '../helpers/ui.js';
import { testDir } from '../helpers/tmp.js';

const ENDPOINT = 'vps.vpn-ui.test:51820';

/**
 * The VPN clients page in a real browser: a bad policy shown at its field, add (the config shown
 * once: its QR code decodes to the same text, copy, download), the list, the dashboard's count, revoke;
 * device groups: add, change a policy, a remove refused while a client is in the group.
 * The WireGuard server is a public edge that registered its key with the control plane (what an
 * edge agent's --tunnel-port does at start): adding a client needs no tunnel up on this machine.
 */
describe('web UI: VPN clients', () => {
  let ui: UiHarness;
  let t: TestGatehouse;
  let page: Page;
  let base: string;
  let serverKey = '';

  const clientsNow = async () =>
    ((await t.api('GET', '/api/v1/vpn/clients')).json as unknown as VpnClientList).clients;

  beforeAll(async () => {
    ui = await startUi();
    ({ t, page, base } = ui);
    for (const [name, ip] of [
      ['wiki', '192.0.2.10'],
      ['git', '192.0.2.11'],
    ] as const) {
      const r = await t.api('PUT', `/api/v1/services/${name}`, {
        hosts: [`${name}.vpn-ui.test`],
        routes: [{ upstreams: [`${ip}:8080`] }],
      });
      expect(r.status, JSON.stringify(r.json)).toBeLessThan(300);
    }
    const node = await t.api('POST', '/api/v1/nodes', { name: 'vps', role: 'public' });
    expect(node.status).toBe(201);
    const keys = generateKeyPair();
    serverKey = keys.publicKey;
    const reg = await fetch(`${base}/edge/v1/tunnel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${String(node.json.token)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ public_key: serverKey, endpoint: ENDPOINT, port: 51820 }),
    });
    expect(reg.status, await reg.clone().text()).toBe(200);
    // The device group the form names (a group must exist: docs/vpn-clients.md).
    expect((await t.api('POST', '/api/v1/vpn/groups', { name: 'staff' })).status).toBe(201);
    await ui.signIn();
  }, 90_000);
  afterAll(async () => {
    await ui?.close();
  });

  it('refuses a bad policy and a bad expiry at their fields, and adds nothing', async () => {
    await page.getByRole('link', { name: 'VPN', exact: true }).click();
    await page.getByRole('heading', { name: 'VPN clients', exact: true }).waitFor();
    await page.getByText('No VPN clients yet.').waitFor();

    await page.getByLabel('Client name').fill('laptop');
    await page.getByLabel('What it may reach').selectOption('ports');
    await page.getByLabel(/^Ports/).fill('22, 0');
    await page.getByRole('button', { name: 'Add client' }).click();
    await page.locator('[aria-invalid="true"][name="ports"]').waitFor();
    const portsError = page.locator('[name="ports"]').locator('xpath=..').getByRole('alert');
    expect(await portsError.textContent()).toBe('ports: 0 is not a port or LOW-HIGH range');
    expect(await page.locator('[aria-invalid="true"][name="name"]').count()).toBe(0);
    await ui.shot('vpn-bad-policy');

    await page.getByLabel(/^Ports/).fill('22');
    await page.getByLabel(/^Expires after/).fill('soon');
    await page.getByRole('button', { name: 'Add client' }).click();
    await page.locator('[aria-invalid="true"][name="expires"]').waitFor();
    expect(await page.locator('[aria-invalid="true"][name="ports"]').count()).toBe(0);
    expect(await page.getByTestId('vpn-config').count()).toBe(0);
    expect(await clientsNow()).toEqual([]);
  });

  it('adds a client, shows its config and QR code once, lists it, counts it, and revokes it', async () => {
    await page.reload();
    await page.getByText('No VPN clients yet.').waitFor();
    await page.getByLabel('Client name').fill('laptop');
    await page.getByLabel(/^Group/).selectOption('staff');
    await page.getByLabel(/^Expires after/).fill('30d');
    await page.getByLabel('What it may reach').selectOption('services');
    await page.getByTestId('policy-services').getByLabel('wiki', { exact: true }).check();
    await ui.shot('vpn-services-policy');
    await page.getByRole('button', { name: 'Add client' }).click();

    const shown = page.getByTestId('vpn-config');
    await shown.waitFor();
    expect(await shown.textContent()).toMatch(/shown only now/);
    const config = await page.getByRole('textbox', { name: 'WireGuard config' }).inputValue();
    expect(config).toMatch(/^\[Interface\]\nPrivateKey = \S+\nAddress = 100\.96\.0\.\d+\/32\n/);
    expect(config).toContain(`PublicKey = ${serverKey}`);
    expect(config).toContain(`Endpoint = ${ENDPOINT}`);
    expect(config).toMatch(/AllowedIPs = .*192\.0\.2\.10\/32/);
    expect(config).not.toContain('192.0.2.11');

    // The QR code is that very text (zbarimg, from Debian's zbar-tools, reads the image shown).
    const qr = join(await testDir('gh-ui-vpn-'), 'qr.png');
    await shown.getByRole('img', { name: /QR code/ }).screenshot({ path: qr });
    const decoded = execFileSync('zbarimg', ['--quiet', '--raw', qr], { encoding: 'utf8' });
    // zbarimg ends what it read with a newline of its own.
    expect(decoded.replace(/\n$/, '')).toBe(config);
    await ui.shot('vpn-added');

    await shown.getByRole('button', { name: 'Copy config' }).click();
    await page.getByText(/Copied\.|Selected:/).waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      shown.getByRole('button', { name: 'Download laptop.conf' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('laptop.conf');
    const saved = join(SHOTS, '..', 'laptop.conf');
    await download.saveAs(saved);
    expect(await readFile(saved, 'utf8')).toBe(config);
    // The form is empty again for the next client.
    expect(await page.getByLabel('Client name').inputValue()).toBe('');

    const [listed] = await clientsNow();
    const row = page.getByTestId('vpn-clients').locator('tr[data-client="laptop"]');
    await row.waitFor();
    expect(config).toContain(`Address = ${listed?.address}/32`);
    expect(await row.getByTestId('address').textContent()).toBe(listed?.address);
    expect(await row.getByTestId('group').textContent()).toBe('staff');
    expect(await row.getByTestId('policy').textContent()).toBe('services:wiki');
    expect(await row.getByTestId('online').textContent()).toBe('offline');
    expect(await row.getByTestId('handshake').textContent()).toBe('no handshake');
    expect(await row.getByTestId('bytes').textContent()).toBe('0 B / 0 B');
    expect(await row.getByTestId('expires').textContent()).toMatch(/^in (29|30) d$/);

    // Done: the config is gone, and nothing brings it back (a reload shows the list only).
    await shown.getByRole('button', { name: 'Done' }).click();
    expect(await page.getByTestId('vpn-config').count()).toBe(0);
    await page.reload();
    await row.waitFor();
    expect(await page.getByTestId('vpn-config').count()).toBe(0);
    expect(await page.content()).not.toContain(/PrivateKey = (\S+)/.exec(config)?.[1] ?? '');

    // The same name again: refused at the name field, no config shown.
    await page.getByLabel('Client name').fill('laptop');
    await page.getByRole('button', { name: 'Add client' }).click();
    await page.locator('[aria-invalid="true"][name="name"]').waitFor();
    expect(await page.getByTestId('vpn-config').count()).toBe(0);

    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page.getByTestId('count-vpn').filter({ hasText: 'VPN clients online0 / 1' }).waitFor();
    await ui.shot('vpn-dashboard');
    await page.getByRole('link', { name: 'VPN', exact: true }).click();

    // At a phone's width the row is a card: nothing scrolls sideways, Revoke stays on screen.
    await page.setViewportSize({ width: 390, height: 844 });
    await row.waitFor();
    const phone = await page.evaluate(() => ({
      width: window.innerWidth,
      scroll: document.documentElement.scrollWidth,
      revoke: document.querySelector('main table button')?.getBoundingClientRect().right ?? Infinity,
    }));
    expect(phone.scroll).toBeLessThanOrEqual(phone.width);
    expect(phone.revoke).toBeLessThanOrEqual(phone.width);
    await ui.shot('vpn-phone');
    await page.setViewportSize({ width: 1200, height: 800 });

    // Revoke: a confirmation first, then it is gone.
    await row.getByRole('button', { name: 'Revoke VPN client laptop' }).click();
    const confirm = page.getByRole('group', { name: 'Confirm revocation' });
    expect(await confirm.textContent()).toMatch(/Revoke VPN client laptop\?/);
    expect(await clientsNow()).toHaveLength(1);
    await ui.shot('vpn-confirm-revoke');
    await confirm.getByRole('button', { name: 'Revoke laptop' }).click();
    await page.getByText('Revoked VPN client laptop.').waitFor();
    await page.getByText('No VPN clients yet.').waitFor();
    expect(await clientsNow()).toEqual([]);
  });

  it("a client that follows its group's policy: none of its own, the group's now and after a change", async () => {
    await page.reload();
    await page.getByLabel('Client name').fill('tablet');
    await page.getByLabel('What it may reach').selectOption('group');
    // Without a group there is nothing to follow: the complaint is at the group field.
    await page.getByRole('button', { name: 'Add client' }).click();
    await page.locator('[aria-invalid="true"][name="group"]').waitFor();
    expect(await clientsNow()).toEqual([]);

    await page.getByLabel(/^Group/).selectOption('staff');
    await page.getByRole('button', { name: 'Add client' }).click();
    await page.getByTestId('vpn-config').waitFor();
    const [tablet] = await clientsNow();
    expect(tablet).toMatchObject({ name: 'tablet', group: 'staff', policy: 'full', policy_from: 'group' });
    const tabletRow = page.getByTestId('vpn-clients').locator('tr[data-client="tablet"]');
    await tabletRow.waitFor();
    expect(await tabletRow.getByTestId('policy').textContent()).toBe('full (group’s)');
    // The group's policy changed: the client follows.
    expect((await t.api('PUT', '/api/v1/vpn/groups/staff', { policy: 'services:wiki' })).status).toBe(200);
    expect((await clientsNow())[0]).toMatchObject({ policy: 'services:wiki', policy_from: 'group' });
    await page.getByTestId('vpn-config').getByRole('button', { name: 'Done' }).click();
    expect((await t.api('DELETE', '/api/v1/vpn/clients/tablet')).status).toBe(200);
  });
  it('device groups: add one, change its policy, a remove refused while a client is in it, then done', async () => {
    await page.reload();
    const groups = page.getByTestId('vpn-group-list');
    await groups.locator('tr[data-group="staff"]').waitFor();
    const form = page.getByRole('form', { name: 'Add a device group' });

    // A name in use: the 409 at the name field, nothing added.
    await form.getByLabel('Device group name').fill('staff');
    await form.getByRole('button', { name: 'Add group' }).click();
    await form.locator('[aria-invalid="true"][name="name"]').waitFor();
    expect(await form.getByRole('alert').first().textContent()).toMatch(/VPN group staff exists/);

    // Some ports: listed with them, no clients.
    await form.getByLabel('Device group name').fill('lab');
    await form.getByLabel('What its clients may reach').selectOption('ports');
    await form.getByLabel(/^Ports/).fill('22, 443');
    await ui.shot('vpn-group-add');
    await form.getByRole('button', { name: 'Add group' }).click();
    await form.getByText('Added device group lab (policy ports:22,443).').waitFor();
    const lab = groups.locator('tr[data-group="lab"]');
    await lab.waitFor();
    expect(await lab.getByTestId('group-policy').textContent()).toBe('ports:22,443');
    expect(await lab.getByTestId('group-clients').textContent()).toBe('0');

    // Change its policy with the same picker: some services.
    await lab.getByRole('button', { name: 'Change the policy of device group lab' }).click();
    const change = page.getByRole('form', { name: 'Change the policy of device group lab' });
    expect(await change.getByLabel('What the clients of lab may reach').inputValue()).toBe('ports');
    expect(await change.getByLabel(/^Ports/).inputValue()).toBe('22, 443');
    await change.getByLabel('What the clients of lab may reach').selectOption('services');
    // None ticked: refused at the field, nothing sent.
    await change.getByRole('button', { name: 'Save policy' }).click();
    await change.locator('[aria-invalid="true"][name="new-policy"]').waitFor();
    await change.getByTestId('group-change-services').getByLabel('wiki', { exact: true }).check();
    await ui.shot('vpn-group-change');
    await change.getByRole('button', { name: 'Save policy' }).click();
    await page.getByText('Device group lab now has policy services:wiki.').waitFor();
    expect(await change.count()).toBe(0);
    await lab.getByTestId('group-policy').filter({ hasText: 'services:wiki' }).waitFor();
    const viaApi = (await t.api('GET', '/api/v1/vpn/groups')).json as unknown as VpnGroupList;
    expect(viaApi.groups.find((g) => g.name === 'lab')).toMatchObject({
      policy: 'services:wiki',
      clients: 0,
    });

    // A client in it (following its policy): counted, and Remove is refused with the 409's reason.
    await page.getByLabel('Client name').fill('phone');
    await page.getByLabel(/^Group/).selectOption('lab');
    await page.getByLabel('What it may reach').selectOption('group');
    await page.getByRole('button', { name: 'Add client' }).click();
    await page.getByTestId('vpn-config').getByRole('button', { name: 'Done' }).click();
    await lab.getByTestId('group-clients').filter({ hasText: '1' }).waitFor();
    expect((await clientsNow())[0]).toMatchObject({ name: 'phone', group: 'lab', policy: 'services:wiki' });

    await lab.getByRole('button', { name: 'Remove device group lab' }).click();
    const confirm = page.getByRole('group', { name: 'Confirm group removal' });
    expect(await confirm.textContent()).toMatch(/Remove device group lab\?/);
    await confirm.getByRole('button', { name: 'Remove lab' }).click();
    const refused = page.getByTestId('vpn-groups').getByRole('alert');
    await refused.waitFor();
    expect(await refused.textContent()).toBe('VPN group lab has clients (phone): revoke them first');
    await ui.shot('vpn-group-remove-refused');
    expect(await lab.count()).toBe(1);

    // At a phone's width: nothing scrolls sideways, the rows' buttons stay on screen.
    await page.setViewportSize({ width: 390, height: 844 });
    await lab.waitFor();
    const phone = await page.evaluate(() => ({
      width: window.innerWidth,
      scroll: document.documentElement.scrollWidth,
      right: Math.max(
        ...[...document.querySelectorAll('[data-testid="vpn-group-list"] button')].map(
          (b) => b.getBoundingClientRect().right,
        ),
      ),
    }));
    expect(phone.scroll).toBeLessThanOrEqual(phone.width);
    expect(phone.right).toBeLessThanOrEqual(phone.width);
    await ui.shot('vpn-groups-phone');
    await page.setViewportSize({ width: 1200, height: 800 });

    // The client revoked, Remove works.
    await page.getByRole('button', { name: 'Revoke VPN client phone' }).click();
    await page
      .getByRole('group', { name: 'Confirm revocation' })
      .getByRole('button', { name: 'Revoke phone' })
      .click();
    await page.getByText('Revoked VPN client phone.').waitFor();
    await lab.getByTestId('group-clients').filter({ hasText: '0' }).waitFor();
    await lab.getByRole('button', { name: 'Remove device group lab' }).click();
    await confirm.getByRole('button', { name: 'Remove lab' }).click();
    await page.getByText('Removed device group lab.').waitFor();
    await lab.waitFor({ state: 'detached' });
    const left = (await t.api('GET', '/api/v1/vpn/groups')).json as unknown as VpnGroupList;
    expect(left.groups.map((g) => g.name)).toEqual(['staff']);
  });
});
