import { hash } from '@node-rs/argon2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessLogList, AnalyticsView } from '../../src/api/views/index.js';
import { authServer } from '../helpers/auth-server.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { startServer, until, type TestServer } from '../helpers/net.js';

/**
 * The whole path an operator relies on, with nothing in between replaced: requests through the
 * real nginx → its access log → the local edge's reader → the log store → the API's log list,
 * analytics and /metrics.
 */
describe('access logs end to end: nginx → reader → store → API', () => {
  let t: TestGatehouse;
  let app: TestServer;
  let auth: Awaited<ReturnType<typeof authServer>>;

  beforeAll(async () => {
    t = await startTestGatehouse({ base_domain: 'pipe.test' });
    app = await startServer((req, res) => res.writeHead(req.url?.startsWith('/gone') ? 404 : 200).end('ok'));
    const put = await t.api('PUT', '/api/v1/services/shop?wait=true', {
      hosts: ['shop.pipe.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
    });
    expect(put.status, put.body).toBe(201);
    const ci = await t.api('PUT', '/api/v1/services/ci?wait=true', {
      hosts: ['ci.pipe.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
      access: { basic: [{ user: 'deploy', password_hash: await hash('deploy secret') }] },
    });
    expect(ci.status, ci.body).toBe(201);
    auth = await authServer();
    const wiki = await t.api('PUT', '/api/v1/services/wiki?wait=true', {
      hosts: ['wiki.pipe.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
      access: { forward_auth: { url: `http://127.0.0.1:${auth.port}/verify`, copy_headers: [] } },
    });
    expect(wiki.status, wiki.body).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await auth?.close();
    await app?.close();
    await t?.close();
  });

  it('every request through nginx is listed, without its query string, and counted', async () => {
    for (let i = 0; i < 5; i++)
      expect((await t.get('shop.pipe.test', `/cart?token=secret${i}`)).status).toBe(200);
    expect((await t.get('shop.pipe.test', '/gone')).status).toBe(404);
    const list = await until(async () => {
      const r = await t.api('GET', '/api/v1/logs?service=shop&limit=50');
      expect(r.status, r.body).toBe(200);
      const l = r.json as unknown as AccessLogList;
      return l.records.length >= 6 ? l : undefined;
    }, 15_000);
    expect(list.records).toHaveLength(6);
    expect(list.records.filter((r) => r.path === '/cart')).toHaveLength(5);
    expect(JSON.stringify(list.records)).not.toContain('secret');
    expect(list.records[0]).toMatchObject({
      node: 'local',
      host: 'shop.pipe.test',
      service: 'shop',
      route: '/',
      method: 'GET',
      path: '/gone',
      status: 404,
      upstream: `127.0.0.1:${app.port}`,
    });
    const notFound = (await t.api('GET', '/api/v1/logs?service=shop&status=404'))
      .json as unknown as AccessLogList;
    expect(notFound.records.map((r) => r.path)).toEqual(['/gone']);

    const a = (await t.api('GET', '/api/v1/analytics?window=1h&service=shop'))
      .json as unknown as AnalyticsView;
    expect(a).toMatchObject({ requests: 6, errors_4xx: 1, errors_5xx: 0 });
    expect(a.top_paths[0]).toMatchObject({ path: '/cart', requests: 5 });

    const metrics = await t.api('GET', '/metrics');
    expect(metrics.body).toMatch(
      /gatehouse_http_requests_total\{[^}]*node="local"[^}]*service="shop"[^}]*status_class="2xx"[^}]*\} 5/,
    );
  }, 40_000);

  it('names the user the gate admitted (basic credentials), and an anonymous refusal without one', async () => {
    const auth = `Basic ${Buffer.from('deploy:deploy secret').toString('base64')}`;
    expect((await t.get('ci.pipe.test', '/build', { headers: { authorization: auth } })).status).toBe(200);
    expect((await t.get('ci.pipe.test', '/build')).status).toBe(401);
    const list = await until(async () => {
      const l = (await t.api('GET', '/api/v1/logs?service=ci')).json as unknown as AccessLogList;
      return l.records.length >= 2 ? l : undefined;
    }, 15_000);
    expect(list.records.map((r) => [r.status, r.user])).toEqual([
      [401, null],
      [200, 'deploy'],
    ]);
    const byUser = (await t.api('GET', '/api/v1/logs?user=deploy')).json as unknown as AccessLogList;
    expect(byUser.records.map((r) => r.path)).toEqual(['/build']);
  }, 40_000);

  it('names the user a forward-auth server admitted (its Remote-User answer)', async () => {
    expect((await t.get('wiki.pipe.test', '/page', { headers: { 'x-test-auth': 'ok' } })).status).toBe(200);
    expect((await t.get('wiki.pipe.test', '/page', { headers: { 'x-test-auth': 'deny' } })).status).toBe(403);
    const list = await until(async () => {
      const l = (await t.api('GET', '/api/v1/logs?service=wiki')).json as unknown as AccessLogList;
      return l.records.length >= 2 ? l : undefined;
    }, 15_000);
    expect(list.records.map((r) => [r.status, r.user])).toEqual([
      [403, null],
      [200, 'fa-user'],
    ]);
  }, 40_000);
});
