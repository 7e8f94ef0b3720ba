import { spawn } from 'node:child_process';
import { request } from 'node:http';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGatehouse } from '../helpers/gatehouse.js';
import { startBind, type Bind } from '../helpers/bind.js';
import { freePort, until } from '../helpers/net.js';
import { startUi, type UiHarness } from '../helpers/ui.js';

const ZONE = 'ui.test';

/**
 * The DNS page in a real browser, over a real BIND: a host whose record is right, one whose CAA
 * allows only another CA, and a provider on a closed port.
 */
describe('web UI: DNS', () => {
  let ui: UiHarness;
  let t: TestGatehouse;
  let page: Page;
  let bind: Bind;

  const service = (name: string, hosts: string[], extra: Record<string, unknown> = {}) =>
    t.api('PUT', `/api/v1/services/${name}`, { hosts, routes: [{ upstreams: ['127.0.0.1:9'] }], ...extra });

  /** A public edge's status report from 127.0.0.2: external records point there. */
  const enrolPublicEdge = async () => {
    const r = await t.api('POST', '/api/v1/nodes', { name: 'vps', role: 'public' });
    expect(r.status, r.body).toBe(201);
    await new Promise<void>((done, fail) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: t.apiPort,
          localAddress: '127.0.0.2',
          method: 'POST',
          path: '/edge/v1/status',
          headers: { authorization: `Bearer ${String(r.json.token)}`, 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            res.statusCode === 200 ? done() : fail(new Error(`status ${res.statusCode}`)),
          );
        },
      );
      req.on('error', fail);
      req.end(JSON.stringify({ applied_hash: '' }));
    });
  };

  const caa = (name: string, issuer: string) =>
    new Promise<void>((done, fail) => {
      const [ip, port] = bind.server.split(':') as [string, string];
      const p = spawn('nsupdate', ['-t', '5'], { stdio: ['pipe', 'ignore', 'pipe'] });
      p.on('close', (code) => (code === 0 ? done() : fail(new Error('nsupdate failed'))));
      // An nsupdate that exits early fails through its exit code, not an EPIPE on its input.
      p.stdin.on('error', () => undefined);
      p.stdin.end(
        [
          `key hmac-sha256:${bind.tsigName} ${bind.tsigSecret}`,
          `server ${ip} ${port}`,
          `zone ${ZONE}.`,
          `update add ${name}. 60 CAA 0 issue "${issuer}"`,
          'send',
          '',
        ].join('\n'),
      );
    });

  beforeAll(async () => {
    bind = await startBind(ZONE);
    ui = await startUi({
      auth_host: `auth.${ZONE}`,
      dns_records: 'on',
      dns_records_ttl: 60,
      // Every public question goes to this BIND: nothing leaves the machine.
      dns_doctor_resolver: bind.server,
      dns_doctor_caa_issuer: 'letsencrypt.org',
      dns_doctor_timeout: '1s',
    });
    ({ t, page } = ui);
    for (const [name, zone, server] of [
      ['bind', ZONE, bind.server],
      ['old-ns', 'old.test', `127.0.0.1:${await freePort()}`],
    ] as const) {
      const p = await t.api('POST', '/api/v1/dns-providers', {
        name,
        type: 'rfc2136',
        zone,
        server,
        tsig_name: bind.tsigName,
        tsig_secret: bind.tsigSecret,
      });
      expect(p.status, p.body).toBe(201);
    }
    await enrolPublicEdge();
    expect((await service('cloud', [`cloud.${ZONE}`])).status).toBe(201);
    expect((await service('shop', [`shop.${ZONE}`])).status).toBe(201);
    await caa(`shop.${ZONE}`, 'pki.goog');
    await until(async () => {
      const r = await t.api('GET', '/api/v1/dns/records');
      const hosts = (r.json.records as { state: string }[]) ?? [];
      return hosts.length === 3 && hosts.every((h) => h.state === 'ok') ? true : undefined;
    }, 10_000);
    await ui.signIn();
  }, 90_000);
  afterAll(async () => {
    await ui?.close();
    await bind?.close();
  });

  it('shows each host with its public answer, CAA verdict and state, and the providers', async () => {
    await page.getByRole('link', { name: 'DNS', exact: true }).click();
    await page.getByRole('heading', { name: 'DNS', exact: true }).waitFor();
    const hosts = page.getByTestId('dns-hosts');
    const cloud = hosts.locator(`tr[data-host="cloud.${ZONE}"]`);
    await cloud.waitFor();
    expect(await cloud.getByTestId('host-state').textContent()).toBe('ok');
    expect(await cloud.getByTestId('public-expected').textContent()).toBe('A 127.0.0.2');
    expect(await cloud.getByTestId('public-actual').textContent()).toBe('A 127.0.0.2');

    const shop = hosts.locator(`tr[data-host="shop.${ZONE}"]`);
    expect(await shop.getByTestId('host-state').textContent()).toBe('problem');
    expect(await shop.getByTestId('caa').textContent()).toContain(
      'allows only pki.goog, not letsencrypt.org',
    );

    const old = page.getByTestId('dns-providers').locator('tr[data-provider="old-ns"]');
    expect(await old.getByTestId('provider-state').textContent()).toMatch(/unreachable|timeout/);
    const ok = page.getByTestId('dns-providers').locator('tr[data-provider="bind"]');
    expect(await ok.getByTestId('provider-state').textContent()).toBe('reachable');
    await page.getByTestId('external-records').getByText('3 ok').waitFor();
    await page.getByTestId('lan-resolver').getByText('Off (lan_dns: off).').waitFor();
    await ui.shot('dns');

    // On a phone the rows become cards; nothing sticks out sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    await until(
      async () =>
        (await page.evaluate(() => document.documentElement.scrollWidth)) <= 390 ? true : undefined,
      2_000,
    );
    await ui.shot('dns-phone');
    await page.setViewportSize({ width: 1200, height: 800 });
  });
});
