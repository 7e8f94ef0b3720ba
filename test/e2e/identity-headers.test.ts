import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FOREIGN_IDENTITY_HEADERS,
  STRIPPED_IDENTITY_HEADERS,
} from '../../src/drivers/nginx/identity-headers.js';
import { Browser } from '../helpers/browser.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, type Res, type TestServer } from '../helpers/net.js';

/**
 * Identity headers a client sends itself (Gatehouse's own, oauth2-proxy's, Authelia's, authentik's
 * and others that apps trust) never reach an upstream, on any kind of route; a signed-in user's
 * identity arrives as Gatehouse sets it.
 */
describe('gate: client identity headers are stripped', () => {
  let t: TestGatehouse;
  let app: TestServer;
  const spoofed = Object.fromEntries(STRIPPED_IDENTITY_HEADERS.map((h) => [h, 'mallory']));
  const seen = (r: Res) => {
    expect(r.status, r.body).toBe(200);
    return (JSON.parse(r.body) as { headers: Record<string, string> }).headers;
  };
  const leaked = (headers: Record<string, string>, names: readonly string[]) =>
    names.filter((h) => headers[h.toLowerCase()] !== undefined);

  beforeAll(async () => {
    t = await startTestGatehouse({ base_domain: 'home.test' });
    app = await echoBackend('app');
    const upstreams = [`127.0.0.1:${app.port}`];
    const put = async (name: string, body: unknown) =>
      expect((await t.api('PUT', `/api/v1/services/${name}?wait=true`, body)).status).toBe(201);
    // A fast-lane host (a line in a map), a public host with a server block of its own, a guarded one.
    await put('fast', { hosts: ['fast.home.test'], routes: [{ upstreams }] });
    await put('site', {
      hosts: ['site.home.test'],
      routes: [{ path: '/', upstreams, headers: { request: { set: { 'X-Env': 'prod' } } } }],
    });
    await put('wiki', { hosts: ['wiki.home.test'], routes: [{ upstreams }], access: { login: {} } });
    expect(
      (await t.api('POST', '/api/v1/users', { username: 'alice', password: 'alice password 1' })).status,
    ).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
  });

  it('names every header family the issue lists', () => {
    for (const h of [
      'X-Forwarded-User',
      'X-Forwarded-Email',
      'X-Forwarded-Groups',
      'X-Forwarded-Preferred-Username',
      'X-Auth-Request-User',
      'X-Auth-Request-Email',
      'X-Auth-Request-Groups',
      'X-Remote-User',
      'Remote-User',
      'Remote-Groups',
      'X-authentik-username',
      'X-authentik-jwt',
    ])
      expect(STRIPPED_IDENTITY_HEADERS).toContain(h);
  });

  it('strips them on public routes (fast lane and server block)', async () => {
    for (const host of ['fast.home.test', 'site.home.test']) {
      const h = seen(await t.get(host, '/', { headers: spoofed }));
      expect(leaked(h, STRIPPED_IDENTITY_HEADERS), host).toEqual([]);
      // Other headers still pass.
      expect(h['x-real-ip']).toBe('127.0.0.1');
    }
    expect(seen(await t.get('site.home.test', '/', { headers: spoofed }))['x-env']).toBe('prod');
  });

  it('strips them on a signed-in route, where only Gatehouse sets its own', async () => {
    const b = new Browser(t.httpPort);
    // Without a session the spoofed identity does not get anyone in.
    expect((await b.get('wiki.home.test', '/', { headers: spoofed })).status).toBe(302);
    await b.login('alice', 'alice password 1');
    const h = seen(await b.get('wiki.home.test', '/', { headers: spoofed }));
    expect(leaked(h, FOREIGN_IDENTITY_HEADERS)).toEqual([]);
    expect(h['remote-user']).toBe('alice');
    expect(h['x-username']).toBe('alice');
    // Gatehouse's own names carry the session's values, never the client's.
    expect(Object.entries(h).filter(([, v]) => v === 'mallory')).toEqual([]);
  });
});
