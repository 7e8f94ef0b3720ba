import { hash } from '@node-rs/argon2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../helpers/browser.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, startServer, type Res, type TestServer } from '../helpers/net.js';

/** Ways around the gate that a review found, each closed and kept closed. */
describe('gate: no way around it', () => {
  let t: TestGatehouse;
  let pub: TestServer;
  let adm: TestServer;
  const seen = (r: Res) => JSON.parse(r.body) as { backend: string; headers: Record<string, string> };
  const basic = (user: string, pw: string) => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;

  beforeAll(async () => {
    t = await startTestGatehouse({ base_domain: 'home.test' });
    adm = await echoBackend('admin');
    // A public app that tries to hand its request on to the guarded location.
    pub = await startServer((req, res) => {
      if (req.url === '/accel') res.setHeader('x-accel-redirect', '/admin/secret');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ backend: 'public', headers: req.headers }));
    });
    await t.api('POST', '/api/v1/users', { username: 'ann', password: 'ann password 1' });
    await t.api('PUT', '/api/v1/services/mixed?wait=true', {
      hosts: ['mixed.home.test'],
      routes: [
        { path: '/', upstreams: [`127.0.0.1:${pub.port}`], access: { public: true } },
        { path: '/admin/', upstreams: [`127.0.0.1:${adm.port}`], access: { login: {} } },
      ],
    });
    await t.api('PUT', '/api/v1/services/ci?wait=true', {
      hosts: ['ci.home.test'],
      routes: [{ upstreams: [`127.0.0.1:${adm.port}`] }],
      access: {
        basic: [{ user: 'deploy', password_hash: await hash('deploy secret') }],
        rate_limit: { requests: 2, per: '1m' },
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await pub?.close();
    await adm?.close();
  });

  it('an upstream cannot send a request on to a guarded location (X-Accel-Redirect)', async () => {
    expect((await t.get('mixed.home.test', '/admin/secret')).status).toBe(401);
    const r = await t.get('mixed.home.test', '/accel');
    expect(r.status).toBe(200);
    expect(seen(r).backend).toBe('public');
  });

  it('no upstream sees the session cookie; other cookies pass', async () => {
    const b = new Browser(t.httpPort);
    await b.login('ann', 'ann password 1');
    const token = b.cookie as string;
    const guarded = await t.get('mixed.home.test', '/admin/x', {
      headers: { cookie: `theme=dark; gh_session=${token}; lang=en` },
    });
    expect(guarded.status).toBe(200);
    expect(seen(guarded).headers.cookie).toBe('theme=dark; lang=en');
    const open = await t.get('mixed.home.test', '/', { headers: { cookie: `gh_session=${token}` } });
    expect(seen(open).headers.cookie).toBeUndefined();
    const two = await t.get('mixed.home.test', '/', {
      headers: { cookie: `gh_session=a.b; x=1; gh_session=${token}` },
    });
    expect(seen(two).headers.cookie).not.toContain('gh_session');
    expect(seen(two).headers.cookie).toContain('x=1');
  });

  it('rate limits apply to requests the gate checks over a round trip too', async () => {
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      statuses.push(
        (await t.get('ci.home.test', '/', { headers: { authorization: basic('deploy', 'deploy secret') } }))
          .status,
      );
    }
    expect(statuses).toEqual([200, 200, 429]);
  });
});
