import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, type Res, type TestServer } from '../helpers/net.js';
import { Browser } from '../helpers/browser.js';
import { tamperSignature } from '../helpers/tokens.js';

/**
 * Sign-in through the portal and signed sessions checked by nginx (Lua): redirects, SSO across
 * subdomains, the hand-over to another domain, groups, identity headers, forged cookies, revocation.
 */
describe('gate: login', () => {
  let t: TestGatehouse;
  let app: TestServer;
  const up = () => [`127.0.0.1:${app.port}`];
  const seen = (r: Res) => JSON.parse(r.body) as { headers: Record<string, string> };
  const browser = () => new Browser(t.httpPort);

  beforeAll(async () => {
    t = await startTestGatehouse({ base_domain: 'home.test' });
    app = await echoBackend('app');
    expect((await t.api('POST', '/api/v1/groups', { name: 'family' })).status).toBe(201);
    expect((await t.api('POST', '/api/v1/groups', { name: 'admins' })).status).toBe(201);
    const alice = await t.api('POST', '/api/v1/users', {
      username: 'alice',
      password: 'correct horse battery',
      email: 'alice@home.test',
      name: 'Alice Liddell',
      first_name: 'Alice',
      last_name: 'Liddell',
      groups: ['family'],
    });
    expect(alice.status).toBe(201);
    await t.api('POST', '/api/v1/users', { username: 'bob', password: 'bob password 1' });
    await t.api('POST', '/api/v1/users', { username: 'carol', password: 'carol password 1' });
    const put = (name: string, body: unknown) => t.api('PUT', `/api/v1/services/${name}?wait=true`, body);
    expect(
      (await put('wiki', { hosts: ['wiki.home.test'], routes: [{ upstreams: up() }], access: { login: {} } }))
        .status,
    ).toBe(201);
    await put('photos', {
      hosts: ['photos.home.test'],
      routes: [{ upstreams: up() }],
      access: { login: { groups: ['family'] } },
    });
    await put('admin', {
      hosts: ['admin.home.test'],
      routes: [{ upstreams: up() }],
      access: { login: { groups: ['admins'] } },
    });
    await put('outside', { hosts: ['app.other.test'], routes: [{ upstreams: up() }], access: { login: {} } });
    await put('public', { hosts: ['www.home.test'], routes: [{ upstreams: up() }] });
    await put('onlyx', {
      hosts: ['onlyx.home.test'],
      routes: [{ upstreams: up() }],
      access: { login: {}, identity_headers: ['x-user'] },
    });
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
  });

  it('sends a browser to the portal and back, signed in, with identity headers', async () => {
    const b = browser();
    const first = await b.get('wiki.home.test', '/page?x=1');
    expect(first.status).toBe(302);
    const loc = new URL(first.headers.location as string);
    expect(loc.host).toBe('auth.home.test');
    expect(loc.searchParams.get('rd')).toBe('http://wiki.home.test/page?x=1');

    const form = await b.follow(first);
    expect(form.status).toBe(200);
    expect(form.body).toContain('<form method="post"');
    const done = await b.post('auth.home.test', '/login', {
      username: 'alice',
      password: 'correct horse battery',
      rd: 'http://wiki.home.test/page?x=1',
    });
    expect(done.status).toBe(303);
    expect(done.headers.location).toBe('http://wiki.home.test/page?x=1');
    const cookie = String(done.headers['set-cookie']);
    expect(cookie).toMatch(/Domain=home\.test/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);

    const page = await b.follow(done);
    expect(page.status).toBe(200);
    const h = seen(page).headers;
    expect(h['remote-user']).toBe('alice');
    expect(h['remote-email']).toBe('alice@home.test');
    expect(h['remote-name']).toBe('Alice Liddell');
    expect(h['remote-groups']).toBe('family');
    expect(h['x-username']).toBe('alice');
    expect(h['x-user-first-name']).toBe('Alice');
    expect(h['x-user-last-name']).toBe('Liddell');
    expect(h['x-user-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('an API client gets a 401, not a redirect', async () => {
    const r = await t.get('wiki.home.test', '/api', { headers: { accept: 'application/json' } });
    expect(r.status).toBe(401);
  });

  it('one sign-in covers every subdomain (SSO); groups decide', async () => {
    const b = browser();
    await b.login('alice', 'correct horse battery');
    expect((await b.get('wiki.home.test')).status).toBe(200);
    expect((await b.get('photos.home.test')).status).toBe(200);
    // Signed in, but not an admin.
    expect((await b.get('admin.home.test')).status).toBe(403);
    const bob = browser();
    await bob.login('bob', 'bob password 1');
    expect((await bob.get('wiki.home.test')).status).toBe(200);
    expect((await bob.get('photos.home.test')).status).toBe(403);
  });

  it('a host outside the base domain gets its session through a one-time hand-over', async () => {
    const b = browser();
    await b.login('alice', 'correct horse battery');
    const first = await b.get('app.other.test', '/deep/link');
    expect(first.status).toBe(302);
    const portal = await b.follow(first);
    // Already signed in at the portal: straight on to the hand-over.
    expect(portal.status).toBe(303);
    const handover = new URL(portal.headers.location as string);
    expect(handover.host).toBe('app.other.test');
    expect(handover.pathname).toBe('/.gatehouse/session');
    const landed = await b.follow(portal);
    expect(landed.status).toBe(303);
    expect(landed.headers.location).toBe('/deep/link');
    expect(String(landed.headers['set-cookie'])).not.toMatch(/Domain=/);
    const page = await b.get('app.other.test', '/deep/link');
    expect(page.status).toBe(200);
    expect(seen(page).headers['remote-user']).toBe('alice');
    // The code works once.
    const again = await browser().get('app.other.test', `${handover.pathname}${handover.search}`);
    expect(again.status).toBe(400);
  });

  it('refuses forged, expired, tampered and other-domain cookies', async () => {
    const b = browser();
    await b.login('alice', 'correct horse battery');
    const token = b.cookie as string;
    const [body, sig] = token.split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
    const forge = (c: Record<string, unknown>) =>
      `${Buffer.from(JSON.stringify(c)).toString('base64url')}.${sig}`;
    const tries: [string, string][] = [
      ['groups forged', forge({ ...claims, g: ['family', 'admins'] })],
      ['expiry forged', forge({ ...claims, x: Date.now() + 1e9 })],
      ['signature tampered', tamperSignature(token)],
      ['garbage', 'garbage'],
    ];
    for (const [what, c] of tries) {
      // Each a token that is not the session: alice's own would be refused the admins' route (403).
      expect(c, what).not.toBe(token);
      const r = await t.get('admin.home.test', '/', {
        headers: { cookie: `gh_session=${c}`, accept: 'text/html' },
      });
      expect(r.status, what).toBe(302);
    }
    // Well signed but for another domain: a cookie from app.other.test replayed on home.test.
    const other = browser();
    await other.login('alice', 'correct horse battery');
    const first = await other.get('app.other.test', '/');
    const handover = await other.follow(await other.follow(first));
    const hostToken = /gh_session=([^;]+)/.exec(String(handover.headers['set-cookie']))?.[1] as string;
    expect(
      (await t.get('app.other.test', '/', { headers: { cookie: `gh_session=${hostToken}` } })).status,
    ).toBe(200);
    const replay = await t.get('wiki.home.test', '/', { headers: { cookie: `gh_session=${hostToken}` } });
    expect(replay.status).toBe(401);
  });

  it('wrong passwords get a clear answer and are throttled per user', async () => {
    const b = browser();
    const wrong = await b.post('auth.home.test', '/login', { username: 'carol', password: 'nope', rd: '' });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toContain('Wrong username or password');
    for (let i = 0; i < 5; i++)
      await b.post('auth.home.test', '/login', { username: 'carol', password: 'nope', rd: '' });
    const blocked = await b.post('auth.home.test', '/login', {
      username: 'carol',
      password: 'carol password 1',
      rd: '',
    });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    const events = await t.api('GET', '/api/v1/events?kind=login_failed');
    expect(events.status).toBe(200);
    expect((events.json as unknown as { events: unknown[] }).events.length).toBeGreaterThanOrEqual(5);
  });

  it('never redirects off Gatehouse (no open redirect)', async () => {
    const b = browser();
    for (const rd of [
      'http://evil.test/',
      '//evil.test/',
      'javascript:alert(1)',
      'http://user@wiki.home.test.evil.test/',
    ]) {
      const r = await b.post('auth.home.test', '/login', {
        username: 'alice',
        password: 'correct horse battery',
        rd,
      });
      expect(r.status).toBe(200);
      expect(r.headers.location).toBeUndefined();
      expect(r.body).toContain('Signed in');
    }
    const handover = await b.get('app.other.test', '/.gatehouse/session?code=x&rd=//evil.test/');
    expect(handover.headers.location).toBeUndefined();
  });

  it('logout, revocation and disabling a user end sessions at once', async () => {
    const b = browser();
    await b.login('alice', 'correct horse battery');
    expect((await b.get('wiki.home.test')).status).toBe(200);
    const stolen = b.cookie as string;
    await b.post('auth.home.test', '/logout', {});
    // The old cookie, replayed, no longer passes.
    expect((await t.get('wiki.home.test', '/', { headers: { cookie: `gh_session=${stolen}` } })).status).toBe(
      401,
    );

    const c = browser();
    await c.login('bob', 'bob password 1');
    expect((await c.get('wiki.home.test')).status).toBe(200);
    const sessions = (await t.api('GET', '/api/v1/sessions?user=bob')).json as unknown as {
      sessions: { id: string }[];
    };
    expect(sessions.sessions.length).toBeGreaterThan(0);
    for (const s of sessions.sessions)
      expect((await t.api('DELETE', `/api/v1/sessions/${s.id}`)).status).toBe(200);
    expect((await c.get('wiki.home.test', '/', { headers: { accept: 'application/json' } })).status).toBe(
      401,
    );

    const d = browser();
    await d.login('bob', 'bob password 1');
    expect((await d.get('wiki.home.test')).status).toBe(200);
    await t.api('PATCH', '/api/v1/users/bob', { disabled: true });
    expect((await d.get('wiki.home.test', '/', { headers: { accept: 'application/json' } })).status).toBe(
      401,
    );
    await t.api('PATCH', '/api/v1/users/bob', { disabled: false });
    // Disabled then enabled again: the old session stays dead.
    expect((await d.get('wiki.home.test', '/', { headers: { accept: 'application/json' } })).status).toBe(
      401,
    );
    // A new password ends every session of the user (a reset after a compromise).
    const e = browser();
    await e.login('bob', 'bob password 1');
    expect((await e.get('wiki.home.test')).status).toBe(200);
    await t.api('PATCH', '/api/v1/users/bob', { password: 'bob password 2' });
    const after = await e.get('wiki.home.test');
    expect(after.status).toBe(302);
    // ... also at the portal: no silent renewal.
    expect((await e.follow(after)).status).toBe(200);
    await t.api('PATCH', '/api/v1/users/bob', { password: 'bob password 1' });
  });

  it('refuses sign-in forms posted from another site, and sign-out by a mere link', async () => {
    const b = browser();
    const form = { username: 'alice', password: 'correct horse battery', rd: '' };
    expect((await b.post('auth.home.test', '/login', form, { origin: 'http://evil.test' })).status).toBe(403);
    expect((await b.post('auth.home.test', '/login', form, { origin: 'null' })).status).toBe(403);
    expect((await b.post('auth.home.test', '/login', form, { origin: 'http://auth.home.test' })).status).toBe(
      200,
    );
    const confirm = await b.get('auth.home.test', '/logout');
    expect(confirm.status).toBe(200);
    expect(confirm.body).toContain('Sign out?');
    expect((await b.get('wiki.home.test')).status).toBe(200);
    expect((await b.post('auth.home.test', '/logout', {}, { origin: 'http://evil.test' })).status).toBe(403);
    expect((await b.get('wiki.home.test')).status).toBe(200);
  });

  it('the portal does not turn a session for one domain into a session for another', async () => {
    const b = browser();
    await b.login('alice', 'correct horse battery');
    const first = await b.get('app.other.test', '/');
    const landed = await b.follow(await b.follow(first));
    const hostToken = /gh_session=([^;]+)/.exec(String(landed.headers['set-cookie']))?.[1] as string;
    // That host's token, taken to the portal, is no session there.
    const r = await t.get('auth.home.test', `/login?rd=${encodeURIComponent('http://admin.home.test/')}`, {
      headers: { cookie: `gh_session=${hostToken}`, accept: 'text/html' },
    });
    expect(r.status).toBe(200);
    expect(r.body).toContain('<form method="post"');
  });

  it('group changes reach a signed-in user through a silent renewal', async () => {
    const b = browser();
    await b.login('alice', 'correct horse battery');
    expect((await b.get('admin.home.test')).status).toBe(403);
    await t.api('PATCH', '/api/v1/users/alice', { groups: ['family', 'admins'] });
    // The old token is stale now: the browser goes by the portal, which renews it without a form.
    const first = await b.get('admin.home.test');
    expect(first.status).toBe(302);
    const renewed = await b.follow(first);
    expect(renewed.status).toBe(303);
    const page = await b.follow(renewed);
    expect(page.status).toBe(200);
    expect(seen(page).headers['remote-groups']).toBe('admins,family');
    await t.api('PATCH', '/api/v1/users/alice', { groups: ['family'] });
  });

  it('strips spoofed identity headers and sends only the chosen sets', async () => {
    const spoof = { 'remote-user': 'root', 'x-email': 'root@evil', 'x-groups': 'admins' };
    const pub = await t.get('www.home.test', '/', { headers: spoof });
    expect(seen(pub).headers['remote-user']).toBeUndefined();
    expect(seen(pub).headers['x-email']).toBeUndefined();
    const b = browser();
    await b.login('alice', 'correct horse battery');
    const r = await b.get('onlyx.home.test', '/', { headers: spoof });
    expect(r.status).toBe(200);
    expect(seen(r).headers['x-username']).toBe('alice');
    expect(seen(r).headers['x-groups']).toBe('family');
    expect(seen(r).headers['remote-user']).toBeUndefined();
  });
});

describe('gate: session expiry', () => {
  let t: TestGatehouse;
  let app: TestServer;

  beforeAll(async () => {
    t = await startTestGatehouse({ base_domain: 'home.test', session_ttl: '2s' });
    app = await echoBackend('app');
    await t.api('POST', '/api/v1/users', { username: 'amy', password: 'amy password 1' });
    await t.api('PUT', '/api/v1/services/wiki?wait=true', {
      hosts: ['wiki.home.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
      access: { login: {} },
    });
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
  });

  it('an expired session no longer passes, in nginx or at the portal', async () => {
    const b = new Browser(t.httpPort);
    const signed = await b.login('amy', 'amy password 1');
    expect(String(signed.headers['set-cookie'])).toMatch(/Max-Age=2;/);
    const token = b.cookie as string;
    expect((await b.get('wiki.home.test')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2100));
    // The browser would have dropped it; a client that keeps sending it is refused all the same.
    const stale = await t.get('wiki.home.test', '/', {
      headers: { cookie: `gh_session=${token}`, accept: 'text/html' },
    });
    expect(stale.status).toBe(302);
    const portal = await t.get('auth.home.test', '/login', { headers: { cookie: `gh_session=${token}` } });
    expect(portal.status).toBe(200);
    expect(portal.body).toContain('<form method="post"');
  });
});
