import { hash } from '@node-rs/argon2';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../helpers/browser.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, until, type TestServer } from '../helpers/net.js';

interface Event {
  kind: string;
  ip: string;
  username: string;
  host: string;
  path: string;
  detail: string;
}

/** Security events say which host and path they are about, in the API the UI reads. */
describe('gate: security events carry host and path', () => {
  let t: TestGatehouse;
  let app: TestServer;
  const events = async () =>
    ((await t.api('GET', '/api/v1/events?limit=1000')).json as unknown as { events: Event[] }).events;

  beforeAll(async () => {
    t = await startTestGatehouse({ base_domain: 'home.test' });
    app = await echoBackend('app');
    const upstreams = [`127.0.0.1:${app.port}`];
    const put = async (name: string, body: unknown) =>
      expect((await t.api('PUT', `/api/v1/services/${name}?wait=true`, body)).status).toBe(201);
    // A rule refuses /secret to everyone: nginx itself answers 403.
    await put('vault', {
      hosts: ['vault.home.test'],
      routes: [{ upstreams }],
      access: { login: {}, rules: [{ action: 'deny', path: '/secret' }] },
    });
    const deploy = { user: 'deploy', password_hash: await hash('deploy secret') };
    await put('ci', { hosts: ['ci.home.test'], routes: [{ upstreams }], access: { basic: [deploy] } });
    await put('share', { hosts: ['share.home.test'], routes: [{ upstreams }], access: { links: true } });
    await put('open', { hosts: ['open.home.test'], routes: [{ upstreams }] });
    expect(
      (await t.api('POST', '/api/v1/users', { username: 'ida', password: 'ida password 1' })).status,
    ).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
  });

  it('records a request nginx denied with its host and path (not its query)', async () => {
    expect((await t.get('vault.home.test', '/secret/keys?token=abc')).status).toBe(403);
    const e = await until(async () => (await events()).find((x) => x.kind === 'denied'), 5000);
    expect(e).toMatchObject({ host: 'vault.home.test', path: '/secret/keys', ip: '127.0.0.1' });
    expect(JSON.stringify(e)).not.toContain('abc');
  });

  it('writes refusals to the security log and every request to the access log', async () => {
    const log = (name: string) => readFile(join(t.dataDir, 'nginx', 'logs', name), 'utf8').catch(() => '');
    expect((await t.get('vault.home.test', '/secret/both')).status).toBe(403);
    expect((await t.get('vault.home.test', '/sign-in-first')).status).toBe(401);
    expect((await t.get('open.home.test', '/passed')).status).toBe(200);
    // The access log is written every second.
    await until(async () => {
      const text = await log('access.log');
      return ['/secret/both', '/sign-in-first', '/passed'].every((p) => text.includes(p)) ? true : undefined;
    }, 5000);
    const security = await log('security.log');
    expect(security).toMatch(/ 403 127\.0\.0\.1 "vault\.home\.test" "\/secret\/both"/);
    expect(security).toMatch(/ 401 127\.0\.0\.1 "vault\.home\.test" "\/sign-in-first"/);
    expect(security).not.toContain('/passed');
  });

  it("records the portal's sign-in failures and sign-ins with the portal's host and path", async () => {
    const b = new Browser(t.httpPort);
    expect(
      (await b.post('auth.home.test', '/login?x=1', { username: 'ida', password: 'wrong', rd: '' })).status,
    ).toBe(401);
    await b.login('ida', 'ida password 1');
    const all = await events();
    expect(all.find((x) => x.kind === 'login_failed')).toMatchObject({
      username: 'ida',
      host: 'auth.home.test',
      path: '/login',
    });
    expect(all.find((x) => x.kind === 'login')).toMatchObject({ host: 'auth.home.test', path: '/login' });
  });

  it('records wrong basic credentials with the host and path of the request nginx checked', async () => {
    const authorization = `Basic ${Buffer.from('deploy:nope').toString('base64')}`;
    expect((await t.get('ci.home.test', '/builds/7?k=1', { headers: { authorization } })).status).toBe(401);
    const e = await until(async () => (await events()).find((x) => x.detail === 'basic'), 5000);
    expect(e).toMatchObject({ kind: 'login_failed', host: 'ci.home.test', path: '/builds/7' });
  });

  it("records a link's use with its host, never its token", async () => {
    const r = await t.api('POST', '/api/v1/links', { service: 'share', ttl: '1h', max_ips: 1 });
    const url = new URL((r.json as { url: string }).url);
    const token = url.pathname.split('/').pop() as string;
    expect((await t.get('share.home.test', url.pathname)).status).toBe(303);
    const e = (await events()).find((x) => x.kind === 'link_used');
    expect(e).toMatchObject({ host: 'share.home.test', path: '/.gatehouse/link/' });
    expect(JSON.stringify(await events())).not.toContain(token);
  });
});
