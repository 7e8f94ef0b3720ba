import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, freePort, type TestServer } from '../helpers/net.js';

/** Path routing, load balancing, headers, strip_prefix and Gatehouse's own error pages, through nginx. */
describe('HTTP routing through nginx', () => {
  let t: TestGatehouse;
  const backends: Record<string, TestServer> = {};
  const up = (name: string) => `127.0.0.1:${backends[name]!.port}`;

  beforeAll(async () => {
    t = await startTestGatehouse();
    for (const n of ['root', 'api', 'lb1', 'lb2', 'v1']) backends[n] = await echoBackend(n);
  });
  afterAll(async () => {
    await t?.close();
    for (const b of Object.values(backends)) await b.close();
  });

  const body = async (host: string, path: string) => {
    const r = await t.get(host, path);
    expect(r.status, r.body).toBe(200);
    return JSON.parse(r.body) as { backend: string; url: string; headers: Record<string, string> };
  };

  it('routes by longest path prefix and strips prefixes on request', async () => {
    const r = await t.api('PUT', '/api/v1/services/paths?wait=true', {
      hosts: ['paths.test'],
      routes: [
        { path: '/', upstreams: [up('root')] },
        { path: '/api/', upstreams: [up('api')], strip_prefix: true },
        { path: '/api/v1/', upstreams: [up('v1')] },
        { path: '/legacy', upstreams: [up('v1')], strip_prefix: true },
      ],
    });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    expect(await body('paths.test', '/anything')).toMatchObject({ backend: 'root', url: '/anything' });
    expect(await body('paths.test', '/api/users?x=1')).toMatchObject({ backend: 'api', url: '/users?x=1' });
    expect(await body('paths.test', '/api/v1/users')).toMatchObject({ backend: 'v1', url: '/api/v1/users' });
    expect(await body('paths.test', '/legacy/old/page')).toMatchObject({ backend: 'v1', url: '/old/page' });
    expect(await body('paths.test', '/legacy')).toMatchObject({ backend: 'v1', url: '/' });
    // A prefix without a trailing slash matches "/legacyx" too, but strips only a whole segment.
    expect(await body('paths.test', '/legacyx/y')).toMatchObject({ backend: 'v1', url: '/legacyx/y' });
    // nginx answers a path without its trailing slash with a redirect to it.
    const redirect = await t.get('paths.test', '/api');
    expect(redirect.status).toBe(301);
  });

  it('sets the usual forwarding headers and applies header rules', async () => {
    await t.api('PUT', '/api/v1/services/hdrs?wait=true', {
      hosts: ['hdrs.test'],
      routes: [
        {
          path: '/',
          upstreams: [up('root')],
          headers: {
            request: { set: { 'X-Env': 'prod' }, delete: ['X-Debug'] },
            response: { set: { 'X-Frame-Options': 'DENY' }, delete: ['X-Backend'] },
          },
        },
      ],
    });
    const r = await t.get('hdrs.test', '/', {
      headers: { 'x-debug': 'secret', 'x-forwarded-for': '6.6.6.6' },
    });
    expect(r.status).toBe(200);
    const seen = JSON.parse(r.body) as { headers: Record<string, string> };
    expect(seen.headers['x-env']).toBe('prod');
    expect(seen.headers['x-debug']).toBeUndefined();
    expect(seen.headers['host']).toBe('hdrs.test');
    expect(seen.headers['x-forwarded-host']).toBe('hdrs.test');
    expect(seen.headers['x-real-ip']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(r.headers['x-frame-options']).toBe('DENY');
    expect(r.headers['x-backend']).toBeUndefined();
    // A fast-lane service keeps the upstream's headers and gets the same forwarding headers.
    await t.api('PUT', '/api/v1/services/plain?wait=true', {
      hosts: ['plain.test'],
      routes: [{ upstreams: [up('root')] }],
    });
    const p = await t.get('plain.test', '/');
    expect(p.headers['x-backend']).toBe('root');
    expect((JSON.parse(p.body) as { headers: Record<string, string> }).headers['x-real-ip']).toBe(
      '127.0.0.1',
    );
  });

  it('balances across two upstreams and skips one that is down', async () => {
    await t.api('PUT', '/api/v1/services/lb?wait=true', {
      hosts: ['lb.test'],
      routes: [{ path: '/', upstreams: [up('lb1'), up('lb2')] }],
    });
    const seen = new Map<string, number>();
    for (let i = 0; i < 20; i++) {
      const b = (await body('lb.test', '/')).backend;
      seen.set(b, (seen.get(b) ?? 0) + 1);
    }
    expect(seen.get('lb1')).toBeGreaterThanOrEqual(5);
    expect(seen.get('lb2')).toBeGreaterThanOrEqual(5);
    // With one upstream dead, every request still succeeds (passive checks move on to the other).
    const dead = await freePort();
    await t.api('PUT', '/api/v1/services/lb?wait=true', {
      hosts: ['lb.test'],
      routes: [{ path: '/', upstreams: [up('lb1'), `127.0.0.1:${dead}`] }],
    });
    for (let i = 0; i < 10; i++) expect((await body('lb.test', '/')).backend).toBe('lb1');
  });

  it('first: sends everything to the first upstream while it is up', async () => {
    await t.api('PUT', '/api/v1/services/first?wait=true', {
      hosts: ['first.test'],
      routes: [{ path: '/', upstreams: [up('lb2'), up('lb1')], lb: 'first' }],
    });
    for (let i = 0; i < 6; i++) expect((await body('first.test', '/')).backend).toBe('lb2');
  });

  it('answers unknown hosts with its own 404 page and dead upstreams with the service’s offline page (503, Retry-After)', async () => {
    const unknown = await t.get('nobody.test', '/');
    expect(unknown.status).toBe(404);
    expect(unknown.headers['content-type']).toContain('text/html');
    expect(unknown.body).toContain('No service is published');

    const dead = await freePort();
    for (const [name, routes] of [
      ['dead-fast', [{ upstreams: [`127.0.0.1:${dead}`] }]],
      [
        'dead-full',
        [{ path: '/', upstreams: [`127.0.0.1:${dead}`], headers: { response: { set: { 'X-A': 'b' } } } }],
      ],
    ] as const) {
      await t.api('PUT', `/api/v1/services/${name}?wait=true`, { hosts: [`${name}.test`], routes });
      const r = await t.get(`${name}.test`, '/');
      expect(r.status, name).toBe(503);
      expect(r.headers['retry-after'], name).toBe('10');
      expect(r.body, name).toContain(`<h1>${name} is offline</h1>`);
      expect(r.body, name).toContain('not answering right now');
    }
  });

  it('routes a wildcard host, while an exact host under it wins', async () => {
    await t.api('PUT', '/api/v1/services/wild?wait=true', {
      hosts: ['*.apps.test'],
      routes: [{ upstreams: [up('lb1')] }],
    });
    await t.api('PUT', '/api/v1/services/exact?wait=true', {
      hosts: ['x.apps.test'],
      routes: [{ upstreams: [up('lb2')] }],
    });
    expect((await body('anything.apps.test', '/')).backend).toBe('lb1');
    expect((await body('x.apps.test', '/')).backend).toBe('lb2');
  });

  it('serves host names up to the 253 characters DNS allows, in both lanes', async () => {
    const label = 'a'.repeat(63);
    const long = `${label}.${label}.${label}.${'b'.repeat(56)}.test`;
    expect(long).toHaveLength(253);
    const fast = `f${long.slice(1)}`;
    const full = `s${long.slice(1)}`;
    expect(
      (
        await t.api('PUT', '/api/v1/services/long-fast?wait=true', {
          hosts: [fast],
          routes: [{ upstreams: [up('root')] }],
        })
      ).status,
    ).toBe(201);
    const r = await t.api('PUT', '/api/v1/services/long-full?wait=true', {
      hosts: [full],
      routes: [{ path: '/', upstreams: [up('api')], headers: { response: { set: { 'X-A': 'b' } } } }],
    });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    expect((await body(fast, '/')).backend).toBe('root');
    expect((await body(full, '/')).backend).toBe('api');
  });

  it('removes a service from the proxy when it is deleted', async () => {
    await t.api('PUT', '/api/v1/services/gone?wait=true', {
      hosts: ['gone.test'],
      routes: [{ upstreams: [up('root')] }],
    });
    expect((await t.get('gone.test')).status).toBe(200);
    const d = await t.api('DELETE', '/api/v1/services/gone?wait=true');
    expect(d.status).toBe(200);
    expect((await t.get('gone.test')).status).toBe(404);
  });
});
