import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authServer } from '../helpers/auth-server.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, type TestServer } from '../helpers/net.js';

/** Access methods nginx enforces itself: source addresses, rate limits, identity header stripping. */
describe('access: ip, rate limits, identity headers', () => {
  let t: TestGatehouse;
  let app: TestServer;
  let auth: Awaited<ReturnType<typeof authServer>>;
  const up = () => [`127.0.0.1:${app.port}`];
  const seen = (body: string) => JSON.parse(body) as { headers: Record<string, string> };

  beforeAll(async () => {
    // Our test client comes from 127.0.0.1; 127.0.0.2 stands for a proxy in front of Gatehouse.
    t = await startTestGatehouse({ trusted_proxies: '127.0.0.2' });
    app = await echoBackend('app');
    auth = await authServer();
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
    await auth?.close();
  });

  it('ip alone: only those sources pass, others get a 403 page', async () => {
    await t.api('PUT', '/api/v1/services/lan?wait=true', {
      hosts: ['lan.test'],
      routes: [{ upstreams: up() }],
      access: { ip: ['127.0.0.0/30'] },
    });
    await t.api('PUT', '/api/v1/services/vpn?wait=true', {
      hosts: ['vpn.test'],
      routes: [{ upstreams: up() }],
      access: { ip: ['10.44.0.0/16'] },
    });
    expect((await t.get('lan.test')).status).toBe(200);
    const denied = await t.get('vpn.test');
    expect(denied.status).toBe(403);
    expect(denied.body).toContain('Access denied');
    // A client's own X-Forwarded-For is not believed...
    expect((await t.get('vpn.test', '/', { headers: { 'x-forwarded-for': '10.44.1.1' } })).status).toBe(403);
  });

  it('believes X-Forwarded-For only from a trusted proxy', async () => {
    const viaProxy = await t.get('vpn.test', '/', {
      headers: { 'x-forwarded-for': '10.44.1.1' },
      localAddress: '127.0.0.2',
    });
    expect(viaProxy.status).toBe(200);
    expect(seen(viaProxy.body).headers['x-real-ip']).toBe('10.44.1.1');
  });

  it('ip with forward auth: listed sources pass without it, others must pass the auth server', async () => {
    const route = {
      upstreams: up(),
      access: { ip: ['10.44.0.0/16'], forward_auth: { url: `http://127.0.0.1:${auth.port}/verify` } },
    };
    await t.api('PUT', '/api/v1/services/mixed?wait=true', { hosts: ['mixed.test'], routes: [route] });
    expect((await t.get('mixed.test')).status).toBe(401);
    expect((await t.get('mixed.test', '/', { headers: { 'x-test-auth': 'ok' } })).status).toBe(200);
    expect(
      (
        await t.get('mixed.test', '/', {
          headers: { 'x-forwarded-for': '10.44.9.9' },
          localAddress: '127.0.0.2',
        })
      ).status,
    ).toBe(200);
  });

  it('rate limit: a burst of the allowance passes, then 429 with Retry-After', async () => {
    await t.api('PUT', '/api/v1/services/limited?wait=true', {
      hosts: ['limited.test'],
      routes: [{ upstreams: up(), access: { public: true, rate_limit: { requests: 5, per: '1m' } } }],
    });
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof t.get>> | undefined;
    for (let i = 0; i < 8; i++) {
      const r = await t.get('limited.test');
      statuses.push(r.status);
      if (r.status === 429) limited = r;
    }
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5)).toEqual([429, 429, 429]);
    expect(limited?.headers['retry-after']).toBe('12');
    expect(limited?.body).toContain('Too many requests');
    // Another client address has its own bucket.
    expect((await t.get('limited.test', '/', { localAddress: '127.0.0.3' })).status).toBe(200);
  });

  it('rate limit of one request: no burst at all; buckets follow the route, not the host', async () => {
    await t.api('PUT', '/api/v1/services/single?wait=true', {
      hosts: ['one-a.test', 'one-b.test'],
      routes: [{ upstreams: up(), access: { public: true, rate_limit: { requests: 1, per: '1m' } } }],
    });
    // Another service on one of the hosts puts the two hosts in different server blocks.
    await t.api('PUT', '/api/v1/services/other?wait=true', {
      hosts: ['one-b.test'],
      routes: [{ path: '/t/', upstreams: up() }],
    });
    expect((await t.get('one-a.test')).status).toBe(200);
    expect((await t.get('one-a.test')).status).toBe(429);
    expect((await t.get('one-b.test')).status).toBe(429);
  });

  it("removes a header the service's auth vouches for, also on a route with an auth of its own", async () => {
    const verify = `http://127.0.0.1:${auth.port}/verify`;
    await t.api('PUT', '/api/v1/services/vouched?wait=true', {
      hosts: ['vouched.test'],
      access: { forward_auth: { url: verify, copy_headers: ['X-Gateway-Token'] } },
      routes: [
        { path: '/', upstreams: up() },
        { path: '/other/', upstreams: up(), access: { forward_auth: { url: verify } } },
      ],
    });
    const r = await t.get('vouched.test', '/other/x', {
      headers: { 'x-test-auth': 'ok', 'x-gateway-token': 'FORGED' },
    });
    expect(r.status).toBe(200);
    expect(seen(r.body).headers['x-gateway-token']).toBeUndefined();
    const main = await t.get('vouched.test', '/', {
      headers: { 'x-test-auth': 'ok', 'x-gateway-token': 'FORGED' },
    });
    expect(seen(main.body).headers['x-gateway-token']).toBe('gw-token-42');
  });

  it('strips identity headers sent by clients, on every route', async () => {
    const forged = {
      'remote-user': 'admin',
      'x-username': 'admin',
      'remote-groups': 'admins',
      'x-email': 'a@b',
    };
    await t.api('PUT', '/api/v1/services/open?wait=true', {
      hosts: ['open.test'],
      routes: [{ upstreams: up() }],
    });
    for (const host of ['open.test', 'lan.test']) {
      const r = await t.get(host, '/', { headers: forged });
      expect(r.status, host).toBe(200);
      const h = seen(r.body).headers;
      for (const name of Object.keys(forged)) expect(h[name], `${host} ${name}`).toBeUndefined();
    }
  });
});
