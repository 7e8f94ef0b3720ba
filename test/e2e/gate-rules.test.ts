import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, until, type TestServer } from '../helpers/net.js';
import { Browser } from '../helpers/browser.js';

/** Rules, ip with login, and failing closed: no way to sign in, the gate's server down. */
describe('gate: rules and failing closed', () => {
  let t: TestGatehouse;
  let app: TestServer;
  const up = () => [`127.0.0.1:${app.port}`];
  const html = { accept: 'text/html' };

  beforeAll(async () => {
    t = await startTestGatehouse({ base_domain: 'home.test' });
    app = await echoBackend('app');
    const put = (name: string, body: unknown) => t.api('PUT', `/api/v1/services/${name}?wait=true`, body);
    await put('docs', {
      hosts: ['docs.home.test'],
      routes: [{ upstreams: up() }],
      access: {
        login: {},
        rules: [
          { action: 'deny', cidr: '0.0.0.0/0', path: '/admin/' },
          { action: 'allow', path: '/public/', method: ['GET', 'HEAD'] },
          { action: 'deny', cidr: ['127.0.0.9/32'] },
        ],
      },
    });
    await put('lan', {
      hosts: ['lan.home.test'],
      routes: [{ upstreams: up() }],
      access: { login: {}, ip: ['127.0.0.1/32'] },
    });
    await put('limited', {
      hosts: ['limited.home.test'],
      routes: [{ upstreams: up() }],
      access: { login: {}, ip: ['127.0.0.1/32'], rate_limit: { requests: 2, per: '1m', by: 'user' } },
    });
    await put('hdr', {
      hosts: ['hdr.home.test'],
      routes: [{ upstreams: up() }],
      access: {
        login: {},
        rules: [
          { action: 'deny', header: { name: 'User-Agent', regex: '^(curl|Wget)/' } },
          { action: 'deny', path: '/t/', header: { name: 'X-Tenant', present: false } },
          {
            action: 'allow',
            header: [
              { name: 'X-Api-Key', equals: 'k-123' },
              { name: 'X-Client', regex: '^ci-[0-9]+$' },
            ],
          },
          { action: 'allow', path: '/t/', header: { name: 'x-tenant', present: true } },
        ],
      },
    });
    await put('open', {
      hosts: ['open.home.test'],
      routes: [{ upstreams: up() }],
      access: { public: true, rules: [{ action: 'deny', path: '/private/' }] },
    });
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
  });

  it('with no user to sign in as, a login route answers 503 saying so (never passes)', async () => {
    const r = await t.get('docs.home.test', '/', { headers: html });
    expect(r.status).toBe(503);
    expect(r.body).toContain('Sign-in unavailable');
    expect(
      (await t.api('POST', '/api/v1/users', { username: 'ann', password: 'ann password 1' })).status,
    ).toBe(201);
    expect((await t.get('docs.home.test', '/', { headers: html })).status).toBe(302);
  });

  it('rules come first: deny beats a session, allow skips sign-in', async () => {
    const b = new Browser(t.httpPort);
    expect((await b.get('docs.home.test', '/public/x')).status).toBe(200);
    expect((await b.get('docs.home.test', '/public/x', { method: 'HEAD' })).status).toBe(200);
    // POST is not in the allow rule: sign-in needed.
    expect((await b.get('docs.home.test', '/public/x', { method: 'POST' })).status).toBe(302);
    await b.login('ann', 'ann password 1');
    expect((await b.get('docs.home.test', '/')).status).toBe(200);
    expect((await b.get('docs.home.test', '/admin/users')).status).toBe(403);
    // Normalised paths: no way around the rule with dot segments or encoding.
    expect((await b.get('docs.home.test', '/x/../admin/users')).status).toBe(403);
    expect((await b.get('docs.home.test', '/%61dmin/users')).status).toBe(403);
    // A rule on the source address, evaluated before the session.
    expect((await b.get('docs.home.test', '/', { localAddress: '127.0.0.9' })).status).toBe(403);
    // A public route with a deny rule.
    expect((await t.get('open.home.test', '/')).status).toBe(200);
    expect((await t.get('open.home.test', '/private/a')).status).toBe(403);
  });

  it('header rules: present, absent, equal, a pattern, several together; bad ones refused naming the field', async () => {
    const get = (path: string, headers: Record<string, string>) =>
      t.get('hdr.home.test', path, { headers: { accept: 'application/json', ...headers } });
    // Both headers of the allow rule: no sign-in needed. One alone, or a wrong value: sign in.
    expect((await get('/', { 'x-api-key': 'k-123', 'x-client': 'ci-42' })).status).toBe(200);
    expect((await get('/', { 'x-api-key': 'k-123' })).status).toBe(401);
    expect((await get('/', { 'x-api-key': 'k-124', 'x-client': 'ci-42' })).status).toBe(401);
    expect((await get('/', { 'x-api-key': 'k-123', 'x-client': 'ci-4x' })).status).toBe(401);
    // A pattern on User-Agent denies before anything else, even with the key.
    const curl = { 'user-agent': 'curl/8.1', 'x-api-key': 'k-123', 'x-client': 'ci-1' };
    expect((await get('/', curl)).status).toBe(403);
    expect((await get('/', { ...curl, 'user-agent': 'Mozilla/5.0 curl/8' })).status).toBe(200);
    // Absent denies, present allows (header names in any case).
    expect((await get('/t/x', {})).status).toBe(403);
    expect((await get('/t/x', { 'X-TENANT': 'acme' })).status).toBe(200);
    // Bad input: 400 naming the field, nothing stored.
    const bad = async (header: unknown) =>
      t.api('PUT', '/api/v1/services/hdr2', {
        hosts: ['hdr2.home.test'],
        routes: [{ upstreams: up() }],
        access: { login: {}, rules: [{ action: 'allow', header }] },
      });
    const lookbehind = await bad({ name: 'X-A', regex: '(?<=a)b' });
    expect(lookbehind.status).toBe(400);
    expect(lookbehind.json.error?.message).toMatch(
      /^access\.rules\.0\.header\.regex: no \(\?\.\.\.\) groups/,
    );
    const unclosed = await bad({ name: 'X-A', regex: '(a' });
    expect(unclosed.json.error?.message).toMatch(
      /^access\.rules\.0\.header\.regex: not a regular expression/,
    );
    const two = await bad({ name: 'X-A', equals: 'a', present: true });
    expect(two.json.error?.message).toMatch(/^access\.rules\.0\.header: say one of present, equals or regex/);
    const underscore = await bad({ name: 'X_A', present: true });
    expect(underscore.json.error?.message).toMatch(
      /^access\.rules\.0\.header\.name: letters, digits and hyphens/,
    );
    expect((await t.api('GET', '/api/v1/services/hdr2')).status).toBe(404);
  });

  it('ip with login: listed sources pass, others must sign in', async () => {
    expect((await t.get('lan.home.test', '/', { headers: html })).status).toBe(200);
    const other = await t.get('lan.home.test', '/', { headers: html, localAddress: '127.0.0.3' });
    expect(other.status).toBe(302);
    const b = new Browser(t.httpPort);
    await b.login('ann', 'ann password 1');
    expect((await b.get('lan.home.test', '/', { localAddress: '127.0.0.3' })).status).toBe(200);
  });

  it('rate limits per signed-in user; anonymous requests by address', async () => {
    await t.api('POST', '/api/v1/users', { username: 'ben', password: 'ben password 1' });
    const ann = new Browser(t.httpPort);
    await ann.login('ann', 'ann password 1');
    const ben = new Browser(t.httpPort);
    await ben.login('ben', 'ben password 1');
    const statuses = async (b: Browser, n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++)
        out.push((await b.get('limited.home.test', '/', { localAddress: '127.0.0.3' })).status);
      return out;
    };
    // Same address, two users: two buckets of two.
    expect(await statuses(ann, 3)).toEqual([200, 200, 429]);
    expect(await statuses(ben, 2)).toEqual([200, 200]);
    // Anonymous (admitted by ip): the address's own bucket.
    const anon = [];
    for (let i = 0; i < 3; i++) anon.push((await t.get('limited.home.test', '/')).status);
    expect(anon).toEqual([200, 200, 429]);
  });

  it('records and counts what nginx refused: denied, rate-limited, unauthenticated', async () => {
    type Events = { events: { kind: string; ip: string; detail: string }[]; counts: Record<string, number> };
    const events = async () => (await t.api('GET', '/api/v1/events?limit=1000')).json as unknown as Events;
    // An API client without a session (the earlier ones were browsers, sent to the portal).
    expect((await t.get('docs.home.test', '/api', { headers: { accept: 'application/json' } })).status).toBe(
      401,
    );
    await until(async () => {
      const e = await events();
      return ['denied', 'rate_limited', 'unauthenticated'].every((k) => (e.counts[k] ?? 0) > 0)
        ? e
        : undefined;
    }, 5000);
    const e = await events();
    expect(e.events.some((x) => x.kind === 'denied' && x.detail === 'docs.home.test/admin/users')).toBe(true);
    expect(e.events.some((x) => x.kind === 'rate_limited' && x.detail.startsWith('limited.home.test/'))).toBe(
      true,
    );
  });

  it('with the gate server down, sign-in answers 503 and nothing is let through unchecked', async () => {
    const b = new Browser(t.httpPort);
    await b.login('ann', 'ann password 1');
    await t.gh.gateServer.close();
    const portal = await t.get('auth.home.test', '/login', { headers: html });
    expect(portal.status).toBe(503);
    expect(portal.body).toContain('Sign-in unavailable');
    // No session: still sent to sign in (which is down), never passed.
    expect((await t.get('docs.home.test', '/', { headers: { accept: 'application/json' } })).status).toBe(
      401,
    );
    // A signed session is checked inside nginx: it keeps working without the gate.
    expect((await b.get('docs.home.test', '/')).status).toBe(200);
  });
});
