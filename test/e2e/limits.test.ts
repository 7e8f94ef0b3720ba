import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { startServer, type TestServer } from '../helpers/net.js';

const BIG = 160 * 1024;

/**
 * Connection and bandwidth limits (a service's or a route's `limits`: nginx's limit_conn and
 * limit_rate), through real nginx: requests in flight per client address and in all, 429 beyond;
 * bytes a second to a connection.
 */
describe('limits: connections and bandwidth', () => {
  let t: TestGatehouse;
  let app: TestServer;

  beforeAll(async () => {
    t = await startTestGatehouse({ base_domain: 'lim.test' });
    // /slow answers after 800 ms (a request in flight); /big sends 160 KB.
    app = await startServer((req, res) => {
      if (req.url?.endsWith('/big')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(Buffer.alloc(BIG, 97));
        return;
      }
      setTimeout(() => res.end('ok'), req.url?.endsWith('/slow') ? 800 : 0);
    });
    const put = await t.api('PUT', '/api/v1/services/lim?wait=true', {
      hosts: ['lim.lim.test'],
      limits: { connections: 2, connections_per_client: 1 },
      routes: [
        { path: '/', upstreams: [`127.0.0.1:${app.port}`] },
        // Its own limits: bandwidth, its connections not counted.
        { path: '/dl/', upstreams: [`127.0.0.1:${app.port}`], limits: { bandwidth: '64k' } },
      ],
    });
    expect(put.status, JSON.stringify(put.json)).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
  });

  const slow = (from: string, path = '/slow') =>
    t.get('lim.lim.test', path, { localAddress: from }).then((r) => r.status);

  it('answers 429 past the requests in flight allowed per client and in all, and serves again after', async () => {
    // One client, two at once: one is served, one refused.
    expect((await Promise.all([slow('127.0.0.1'), slow('127.0.0.1')])).sort()).toEqual([200, 429]);
    // Two clients, one each: both served.
    expect(await Promise.all([slow('127.0.0.1'), slow('127.0.0.2')])).toEqual([200, 200]);
    // Three clients: two at once in all.
    expect((await Promise.all([slow('127.0.0.1'), slow('127.0.0.2'), slow('127.0.0.3')])).sort()).toEqual([
      200, 200, 429,
    ]);
    // Once they are done, the next is served.
    expect(await slow('127.0.0.1')).toBe(200);
    // A route with limits of its own (bandwidth only) does not count connections.
    expect(await Promise.all([slow('127.0.0.1', '/dl/slow'), slow('127.0.0.1', '/dl/slow')])).toEqual([
      200, 200,
    ]);
  });

  it('sends a route with a bandwidth limit at that rate, the others at full speed', async () => {
    const timed = async (path: string) => {
      const t0 = Date.now();
      const r = await t.get('lim.lim.test', path, { timeoutMs: 20_000 });
      return { ms: Date.now() - t0, status: r.status, length: r.body.length };
    };
    const limited = await timed('/dl/big');
    expect(limited).toMatchObject({ status: 200, length: BIG });
    // 160 KB at 64 KB a second: about 2.5 s.
    expect(limited.ms).toBeGreaterThan(1500);
    const full = await timed('/big');
    expect(full).toMatchObject({ status: 200, length: BIG });
    expect(full.ms).toBeLessThan(1000);
  });

  it('refuses bad limits naming the field, and changes nothing', async () => {
    const put = (limits: unknown) =>
      t.api('PUT', '/api/v1/services/lim2', {
        hosts: ['lim2.lim.test'],
        limits,
        routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
      });
    const cases: [unknown, RegExp][] = [
      [{}, /^limits: say connections, connections_per_client or bandwidth/],
      [{ connections: 0 }, /^limits\.connections: /],
      [{ connections_per_client: 1.5 }, /^limits\.connections_per_client: /],
      [{ bandwidth: '1k5' }, /^limits\.bandwidth: a rate in bytes a second/],
      [{ bandwidth: '512' }, /^limits\.bandwidth: at least 1k a second/],
      [{ rate: '1m' }, /^limits\.rate: unknown field/],
    ];
    for (const [limits, message] of cases) {
      const r = await put(limits);
      expect(r.status, JSON.stringify(limits)).toBe(400);
      expect(r.json.error?.message, JSON.stringify(limits)).toMatch(message);
    }
    expect((await t.api('GET', '/api/v1/services/lim2')).status).toBe(404);
  });
});
