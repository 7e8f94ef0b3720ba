import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../helpers/browser.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, type Res, type TestServer } from '../helpers/net.js';
import { signInAtProvider, startOidcProvider } from '../helpers/oidc.js';

/** Sign-in through a real OpenID Connect provider (oidc-provider), groups mapped from its claim. */
describe('gate: OIDC', () => {
  let t: TestGatehouse;
  let app: TestServer;
  let idp: Awaited<ReturnType<typeof startOidcProvider>>;
  const seen = (r: Res) => JSON.parse(r.body) as { headers: Record<string, string> };

  /** From a guarded page to the provider and back, signed in; returns the last response. */
  const viaProvider = async (b: Browser, host: string, login: string): Promise<Res> => {
    let r = await b.get(host, '/');
    // Portal → provider start → the provider (another origin: driven separately).
    const ours = (loc: string) => loc.startsWith('/') || new URL(loc).hostname.endsWith('.test');
    while (r.status >= 300 && r.status < 400 && ours(r.headers.location as string)) {
      r = await b.follow(r);
    }
    const callback = await signInAtProvider(r.headers.location as string, login);
    expect(callback.host).toBe('auth.home.test');
    const back = await b.get(callback.hostname, callback.pathname + callback.search);
    expect(back.status, back.body).toBe(303);
    return b.follow(back);
  };

  beforeAll(async () => {
    t = await startTestGatehouse({ base_domain: 'home.test' });
    app = await echoBackend('app');
    idp = await startOidcProvider('http://auth.home.test/oidc/callback');
    await t.api('POST', '/api/v1/groups', { name: 'engineering' });
    await t.api('POST', '/api/v1/groups', { name: 'staff' });
    await t.api('POST', '/api/v1/users', { username: 'alice', password: 'alice password 1' });
    const upstreams = [`127.0.0.1:${app.port}`];
    await t.api('PUT', '/api/v1/services/eng?wait=true', {
      hosts: ['eng.home.test'],
      routes: [{ upstreams }],
      access: { provider: 'corp', login: { groups: ['engineering'] } },
    });
    await t.api('PUT', '/api/v1/services/any?wait=true', {
      hosts: ['any.home.test'],
      routes: [{ upstreams }],
      access: { login: {} },
    });
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
    await idp?.close();
  });

  it('a route needing a provider that does not exist answers 503', async () => {
    const r = await t.get('eng.home.test', '/', { headers: { accept: 'text/html' } });
    expect(r.status).toBe(503);
    expect(r.body).toContain('Sign-in unavailable');
  });

  it('adds a provider; the secret is never shown back; bad input names the field', async () => {
    const bad = await t.api('POST', '/api/v1/providers', {
      name: 'x',
      issuer: 'ftp://a',
      client_id: 'a',
      client_secret: 'b',
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error?.message).toMatch(/^issuer: /);
    const unknownGroup = await t.api('POST', '/api/v1/providers', {
      name: 'x',
      issuer: idp.issuer,
      client_id: 'a',
      client_secret: 'b',
      group_map: { eng: 'nope' },
    });
    expect(unknownGroup.status).toBe(400);
    expect(unknownGroup.json.error?.message).toMatch(/^group_map\.eng: /);
    const ok = await t.api('POST', '/api/v1/providers', {
      name: 'corp',
      label: 'Corp SSO',
      issuer: idp.issuer,
      client_id: 'gatehouse',
      client_secret: 'test-client-secret',
      group_map: { eng: 'engineering' },
      groups_passthrough: true,
    });
    expect(ok.status, JSON.stringify(ok.json)).toBe(201);
    expect(JSON.stringify(ok.json)).not.toContain('test-client-secret');
    const login = await t.get('auth.home.test', '/login', { headers: { accept: 'text/html' } });
    expect(login.body).toContain('Sign in with Corp SSO');
  });

  it('signs in through the provider (code + PKCE), maps groups, sends identity upstream', async () => {
    const b = new Browser(t.httpPort);
    const page = await viaProvider(b, 'eng.home.test', 'carol');
    expect(page.status).toBe(200);
    const h = seen(page).headers;
    expect(h['remote-user']).toBe('carol');
    expect(h['remote-email']).toBe('carol@corp.test');
    expect(h['remote-groups']).toBe('engineering,staff');
    // SSO: the same session works on another subdomain.
    expect((await b.get('any.home.test')).status).toBe(200);
    const users = (await t.api('GET', '/api/v1/users/carol')).json as {
      groups: string[];
      has_password: boolean;
    };
    expect(users.groups).toEqual(['engineering', 'staff']);
    expect(users.has_password).toBe(false);
  });

  it('groups decide after the provider sign-in; a password session does not satisfy a provider route', async () => {
    const dan = new Browser(t.httpPort);
    const page = await viaProvider(dan, 'eng.home.test', 'dan');
    expect(page.status).toBe(403);
    const alice = new Browser(t.httpPort);
    await alice.login('alice', 'alice password 1');
    expect((await alice.get('any.home.test')).status).toBe(200);
    const r = await alice.get('eng.home.test');
    expect(r.status).toBe(302);
    const portal = await alice.follow(r);
    expect(portal.status).toBe(303);
    expect(portal.headers.location).toMatch(/^\/oidc\/corp\/start\?rd=/);
  });

  it('an email the provider has not verified is not passed on', async () => {
    const b = new Browser(t.httpPort);
    // Straight from the portal's "Sign in with" button.
    const start = await b.get(
      'auth.home.test',
      `/oidc/corp/start?rd=${encodeURIComponent('http://any.home.test/')}`,
    );
    const callback = await signInAtProvider(start.headers.location as string, 'eve');
    const back = await b.get(callback.hostname, callback.pathname + callback.search);
    const page = await b.follow(back);
    expect(page.status).toBe(200);
    expect(seen(page).headers['remote-user']).toBe('eve');
    expect(seen(page).headers['remote-email']).toBeUndefined();
  });

  it('a forged or replayed callback is refused', async () => {
    const b = new Browser(t.httpPort);
    const r = await b.get('auth.home.test', '/oidc/callback?code=abc&state=xyz');
    expect(r.status).toBe(401);
    expect(r.body).toContain('Signing in with the provider failed');
  });
});
