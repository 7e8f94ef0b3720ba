import { hash } from '@node-rs/argon2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authServer } from '../helpers/auth-server.js';
import { Browser } from '../helpers/browser.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, type Res, type TestServer } from '../helpers/net.js';

/** Basic credentials (checked by the gate) and an external provider beside login. */
describe('gate: basic credentials and forward auth with login', () => {
  let t: TestGatehouse;
  let app: TestServer;
  let auth: Awaited<ReturnType<typeof authServer>>;
  const seen = (r: Res) => JSON.parse(r.body) as { headers: Record<string, string> };
  const basic = (user: string, pw: string) => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;

  beforeAll(async () => {
    t = await startTestGatehouse({ base_domain: 'home.test' });
    app = await echoBackend('app');
    auth = await authServer();
    const upstreams = [`127.0.0.1:${app.port}`];
    const deploy = { user: 'deploy', password_hash: await hash('deploy secret') };
    const put = (name: string, body: unknown) => t.api('PUT', `/api/v1/services/${name}?wait=true`, body);
    expect(
      (await put('ci', { hosts: ['ci.home.test'], routes: [{ upstreams }], access: { basic: [deploy] } }))
        .status,
    ).toBe(201);
    await put('both', {
      hosts: ['both.home.test'],
      routes: [{ upstreams }],
      access: { login: {}, basic: [deploy] },
    });
    await put('sso', {
      hosts: ['sso.home.test'],
      routes: [{ upstreams }],
      access: {
        login: {},
        forward_auth: { url: `http://127.0.0.1:${auth.port}/verify`, copy_headers: ['X-Gateway-Token'] },
      },
    });
    await t.api('POST', '/api/v1/users', { username: 'ann', password: 'ann password 1' });
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
    await auth?.close();
  });

  it('basic alone: a challenge, wrong credentials refused, right ones pass as that user', async () => {
    const none = await t.get('ci.home.test');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Basic realm="ci\.home\.test"/);
    expect(
      (await t.get('ci.home.test', '/', { headers: { authorization: basic('deploy', 'nope') } })).status,
    ).toBe(401);
    expect(
      (await t.get('ci.home.test', '/', { headers: { authorization: basic('root', 'deploy secret') } }))
        .status,
    ).toBe(401);
    const ok = await t.get('ci.home.test', '/build', {
      headers: {
        authorization: basic('deploy', 'deploy secret'),
        'remote-email': 'spoof@evil',
        'x-groups': 'admins',
      },
    });
    expect(ok.status).toBe(200);
    expect(seen(ok).headers['remote-user']).toBe('deploy');
    expect(seen(ok).headers['x-username']).toBe('deploy');
    expect(seen(ok).headers['remote-email']).toBeUndefined();
    expect(seen(ok).headers['x-groups']).toBeUndefined();
    // Remembered: many requests cost one argon2 verification.
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) {
      expect(
        (await t.get('ci.home.test', '/', { headers: { authorization: basic('deploy', 'deploy secret') } }))
          .status,
      ).toBe(200);
    }
    expect(performance.now() - t0).toBeLessThan(2000);
    // The check endpoint is nginx's alone: from outside it answers nothing useful.
    const probe = await t.get('ci.home.test', '/.gatehouse/check', {
      headers: { authorization: basic('deploy', 'deploy secret'), 'x-gatehouse-check': 'anything' },
    });
    expect(probe.status).toBe(403);
  });

  it('login and basic: browsers go to the portal, scripts use basic, sessions pass', async () => {
    const browser = await t.get('both.home.test', '/', { headers: { accept: 'text/html' } });
    expect(browser.status).toBe(302);
    const script = await t.get('both.home.test', '/');
    expect(script.status).toBe(401);
    expect(script.headers['www-authenticate']).toMatch(/^Basic /);
    expect(
      (await t.get('both.home.test', '/', { headers: { authorization: basic('deploy', 'deploy secret') } }))
        .status,
    ).toBe(200);
    const b = new Browser(t.httpPort);
    await b.login('ann', 'ann password 1');
    const r = await b.get('both.home.test');
    expect(r.status).toBe(200);
    expect(seen(r).headers['remote-user']).toBe('ann');
  });

  it('login and forward auth: a session passes without asking the provider, else the provider decides', async () => {
    const b = new Browser(t.httpPort);
    await b.login('ann', 'ann password 1');
    const before = auth.calls.length;
    expect((await b.get('sso.home.test')).status).toBe(200);
    expect(auth.calls.length).toBe(before);
    const viaProvider = await t.get('sso.home.test', '/', {
      headers: { 'x-test-auth': 'ok', 'x-gateway-token': 'spoofed' },
    });
    expect(viaProvider.status).toBe(200);
    expect(seen(viaProvider).headers['x-gateway-token']).toBe('gw-token-42');
    expect(auth.calls.length).toBe(before + 1);
    expect((await t.get('sso.home.test', '/', { headers: { 'x-test-auth': 'deny' } })).status).toBe(403);
    const login = await t.get('sso.home.test', '/', { headers: { 'x-test-auth': 'login' } });
    expect(login.status).toBe(302);
    expect(login.headers.location).toMatch(/^https:\/\/login\.test\//);
  });

  it('with the gate down, basic answers 503, never passes', async () => {
    await t.gh.gateServer.close();
    const r = await t.get('ci.home.test', '/', {
      headers: { authorization: basic('deploy', 'deploy secret') },
    });
    expect(r.status).toBe(503);
  });
});
