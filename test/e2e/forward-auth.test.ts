import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authServer } from '../helpers/auth-server.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, freePort, type TestServer } from '../helpers/net.js';

/** access.forward_auth is nginx auth_request; it must never let a request through when in doubt. */
describe('forward auth', () => {
  let t: TestGatehouse;
  let app: TestServer;
  let auth: Awaited<ReturnType<typeof authServer>>;

  beforeAll(async () => {
    t = await startTestGatehouse();
    app = await echoBackend('app');
    auth = await authServer();
    const r = await t.api('PUT', '/api/v1/services/guarded?wait=true', {
      hosts: ['guarded.test'],
      access: {
        forward_auth: { url: `http://127.0.0.1:${auth.port}/auth/verify`, copy_headers: ['X-Gateway-Token'] },
      },
      routes: [
        { path: '/', upstreams: [`127.0.0.1:${app.port}`] },
        { path: '/public/', upstreams: [`127.0.0.1:${app.port}`], access: { public: true } },
      ],
    });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    // The conventions of other auth setups: redirects passed on (Descope), a plain 401 to a login URL.
    const conventions = await t.api('PUT', '/api/v1/services/conventions?wait=true', {
      hosts: ['conventions.test'],
      access: {
        forward_auth: {
          url: `http://127.0.0.1:${auth.port}/auth/verify`,
          pass_redirects: true,
          login_url: 'https://login.conventions.test/sign-in?tenant=home',
        },
      },
      routes: [{ path: '/', upstreams: [`127.0.0.1:${app.port}`] }],
    });
    expect(conventions.status, JSON.stringify(conventions.json)).toBe(201);
    // Beside sign-in: the auth server is asked only for requests without a session (the slow path).
    const both = await t.api('PUT', '/api/v1/services/both?wait=true', {
      hosts: ['both.test'],
      access: {
        login: {},
        forward_auth: { url: `http://127.0.0.1:${auth.port}/auth/verify`, pass_redirects: true },
      },
      routes: [{ path: '/', upstreams: [`127.0.0.1:${app.port}`] }],
    });
    expect(both.status, JSON.stringify(both.json)).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
    await auth?.close();
  });

  it('passes on 2xx and copies the listed headers from the auth answer', async () => {
    const r = await t.get('guarded.test', '/docs?page=2', { headers: { 'x-test-auth': 'ok' } });
    expect(r.status).toBe(200);
    const seen = JSON.parse(r.body) as { headers: Record<string, string>; url: string };
    expect(seen.url).toBe('/docs?page=2');
    expect(seen.headers['x-gateway-token']).toBe('gw-token-42');
    expect(seen.headers['x-unlisted']).toBeUndefined();
    const call = auth.calls.at(-1);
    expect(call?.url).toBe('/auth/verify');
    expect(call?.headers['x-original-uri']).toBe('/docs?page=2');
    expect(call?.headers['x-forwarded-host']).toBe('guarded.test');
    expect(call?.headers['x-forwarded-method']).toBe('GET');
  });

  it('always replaces a client-sent copy header, even when the auth answer has none', async () => {
    const spoof = { 'x-gateway-token': 'forged' };
    const r = await t.get('guarded.test', '/', { headers: { 'x-test-auth': 'ok', ...spoof } });
    expect((JSON.parse(r.body) as { headers: Record<string, string> }).headers['x-gateway-token']).toBe(
      'gw-token-42',
    );
    // A public route of the same service has no auth answer: the forged header must not pass either.
    const p = await t.get('guarded.test', '/public/x', { headers: spoof });
    expect(p.status).toBe(200);
    expect(
      (JSON.parse(p.body) as { headers: Record<string, string> }).headers['x-gateway-token'],
    ).toBeUndefined();
  });

  it('denies with 403', async () => {
    const r = await t.get('guarded.test', '/', { headers: { 'x-test-auth': 'deny' } });
    expect(r.status).toBe(403);
    expect(r.body).not.toContain('"backend"');
  });

  it('turns a 401 with Location into a redirect there', async () => {
    const r = await t.get('guarded.test', '/secret', { headers: { 'x-test-auth': 'login' } });
    expect(r.status).toBe(302);
    expect(r.headers.location).toBe(
      `https://login.test/?rd=${encodeURIComponent('http://guarded.test/secret')}`,
    );
  });

  it("passes a 401 on with the auth server's WWW-Authenticate", async () => {
    const r = await t.get('guarded.test', '/', { headers: { 'x-test-auth': 'basic' } });
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Basic realm="gatehouse-test"');
    expect(r.body).toContain('Sign-in required');
    const plain = await t.get('guarded.test', '/');
    expect(plain.status).toBe(401);
    expect(plain.body).not.toContain('"backend"');
  });

  it('fails closed with 503 when the auth server answers something else', async () => {
    const r = await t.get('guarded.test', '/', { headers: { 'x-test-auth': 'weird' } });
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('10');
    expect(r.body).not.toContain('"backend"');
  });

  it('with pass_redirects, the auth server’s 3xx reaches the client as it is; without, 503', async () => {
    const passed = await t.get('conventions.test', '/x', { headers: { 'x-test-auth': 'descope' } });
    expect(passed.status).toBe(307);
    expect(passed.headers.location).toBe('https://auth.descope.test/sign-in?app=guarded');
    expect(passed.body).not.toContain('"backend"');
    const weird = await t.get('conventions.test', '/x', { headers: { 'x-test-auth': 'weird' } });
    expect([weird.status, weird.headers.location]).toEqual([302, '/elsewhere']);
    // A redirect to nowhere is the auth server failing: closed.
    const bare = await t.get('conventions.test', '/x', { headers: { 'x-test-auth': 'bare-redirect' } });
    expect(bare.status).toBe(503);
    expect((await t.get('guarded.test', '/', { headers: { 'x-test-auth': 'descope' } })).status).toBe(503);
    const slow = await t.get('both.test', '/y', { headers: { 'x-test-auth': 'descope' } });
    expect([slow.status, slow.headers.location]).toEqual([
      307,
      'https://auth.descope.test/sign-in?app=guarded',
    ]);
    expect((await t.get('both.test', '/', { headers: { 'x-test-auth': 'bare-redirect' } })).status).toBe(503);
    expect((await t.get('both.test', '/', { headers: { 'x-test-auth': 'ok' } })).status).toBe(200);
  });

  it('with login_url, a plain 401 redirects there with the URL asked for; a 401 with Location still goes there', async () => {
    const r = await t.get('conventions.test', '/docs?page=2&q=a%20b', {
      headers: { 'x-test-auth': 'nobody' },
    });
    expect(r.status).toBe(302);
    const to = new URL(String(r.headers.location));
    expect(to.origin + to.pathname).toBe('https://login.conventions.test/sign-in');
    expect(to.searchParams.get('tenant')).toBe('home');
    expect(to.searchParams.get('redirect')).toBe('http://conventions.test/docs?page=2&q=a%20b');
    const own = await t.get('conventions.test', '/s', { headers: { 'x-test-auth': 'login' } });
    expect(own.headers.location).toBe(
      `https://login.test/?rd=${encodeURIComponent('http://conventions.test/s')}`,
    );
    // Passing and refusing are unchanged.
    expect((await t.get('conventions.test', '/', { headers: { 'x-test-auth': 'ok' } })).status).toBe(200);
    expect((await t.get('conventions.test', '/', { headers: { 'x-test-auth': 'deny' } })).status).toBe(403);
  });

  it('fails closed with 503 when the auth server is down', async () => {
    const dead = await freePort();
    await t.api('PUT', '/api/v1/services/orphan?wait=true', {
      hosts: ['orphan.test'],
      access: { forward_auth: { url: `http://127.0.0.1:${dead}/verify` } },
      routes: [{ path: '/', upstreams: [`127.0.0.1:${app.port}`] }],
    });
    const r = await t.get('orphan.test', '/', { headers: { 'x-test-auth': 'ok' } });
    expect(r.status).toBe(503);
    expect(r.body).toContain('Sign-in unavailable');
  });

  it('leaves public routes of a guarded service open', async () => {
    const r = await t.get('guarded.test', '/public/page');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ backend: 'app' });
  });
});
