import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../helpers/browser.js';
import { startEdgeAgent } from '../helpers/edge.js';
import { echoBackend, freePort, http, json, until, type Res, type TestServer } from '../helpers/net.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startReplica, stopReplica, type Replica } from '../helpers/replica.js';
import { testDir } from '../helpers/tmp.js';

const PORTAL = 'auth.replicas.test';

/**
 * Sign-in state a visitor or a browser may meet on any replica: link admissions, portal hand-over
 * codes and the sign-in throttle are the same through every replica's nginx (issue 15).
 */
describe('replicas: link admissions, hand-overs and the sign-in throttle are shared', () => {
  let pgc: TestPostgres;
  let url: string;
  let app: TestServer;
  let a: Replica;
  let b: Replica;

  /** A request through `r`'s nginx from the client address `ip`. */
  const from = (r: Replica, ip: string, host: string, path = '/'): Promise<Res> =>
    http(r.ports.http, host, path, { localAddress: ip, headers: { accept: 'text/html' } });
  const status = async (r: Replica, ip: string, host: string) =>
    (await from(r, ip, host).catch(() => undefined))?.status;

  beforeAll(async () => {
    pgc = await startPostgres();
    url = await pgc.createDatabase();
    app = await echoBackend('app');
    [a, b] = await Promise.all([
      startReplica('a', url, 'replicas.test'),
      startReplica('b', url, 'replicas.test'),
    ]);
    const upstreams = [`127.0.0.1:${app.port}`];
    const put = async (name: string, body: Record<string, unknown>) => {
      const r = await a.api('PUT', `/api/v1/services/${name}?wait=true`, body);
      expect(r.status, JSON.stringify(r.json)).toBe(201);
    };
    await put('share', { hosts: ['share.replicas.test'], routes: [{ upstreams }], access: { links: true } });
    await put('keyed', {
      hosts: ['keyed.replicas.test'],
      routes: [{ upstreams }],
      access: { api_keys: true },
    });
    await put('away', { hosts: ['app.other.test'], routes: [{ upstreams }], access: { login: {} } });
    for (const [username, password] of [
      ['hana', 'hana password 1'],
      ['tess', 'tess password 1'],
      ['ursula', 'ursula password 1'],
    ]) {
      const r = await a.api('POST', '/api/v1/users', { username, password, role: 'admin' });
      expect(r.status, JSON.stringify(r.json)).toBe(201);
    }
    // B serves both services before the tests look through it.
    await until(
      async () => ((await status(b, '127.0.0.1', 'share.replicas.test')) === 403 ? true : undefined),
      10_000,
    );
  }, 120_000);
  afterAll(async () => {
    await stopReplica(a);
    await stopReplica(b);
    await app?.close();
    await pgc?.stop().catch(() => undefined);
  });

  it('a link opened through A admits the address at B’s nginx (and an edge following A); revoked on B, A refuses it', async () => {
    const node = await a.api('POST', '/api/v1/nodes', { name: 'edge-a', role: 'public' });
    expect(node.status, JSON.stringify(node.json)).toBe(201);
    const edgePort = await freePort();
    const edge = startEdgeAgent({
      control: `http://127.0.0.1:${a.ports.api}`,
      token: String(node.json.token),
      dir: await testDir('gh-replicas-gate-edge-'),
      httpPort: edgePort,
    });
    try {
      const viaEdge = async (ip: string) =>
        (
          await http(edgePort, 'share.replicas.test', '/', {
            localAddress: ip,
            headers: { accept: 'text/html' },
          }).catch(() => undefined)
        )?.status;
      await until(async () => ((await viaEdge('127.0.0.31')) === 403 ? true : undefined), 30_000);

      const created = await a.api('POST', '/api/v1/links', { service: 'share', ttl: '1h', max_ips: 3 });
      expect(created.status, JSON.stringify(created.json)).toBe(201);
      const link = new URL(String(created.json.url));
      const id = String((created.json.link as { id: string }).id);
      expect(await status(b, '127.0.0.31', 'share.replicas.test')).toBe(403);
      // Opened through A's nginx only.
      const opened = await from(a, '127.0.0.31', link.hostname, link.pathname);
      expect(opened.status).toBe(303);
      const t0 = performance.now();
      await until(
        async () => ((await status(b, '127.0.0.31', 'share.replicas.test')) === 200 ? true : undefined),
        5000,
        5,
      );
      console.log(
        `replicas: a link admission on A served by B's nginx after ${(performance.now() - t0).toFixed(0)} ms`,
      );
      // The edge that follows the replica where it was admitted gets it too.
      await until(async () => ((await viaEdge('127.0.0.31')) === 200 ? true : undefined), 10_000);
      // Only that address.
      expect(await status(b, '127.0.0.32', 'share.replicas.test')).toBe(403);

      // A second address opens it through B's nginx: A's edge gets it from A's files.
      expect((await from(b, '127.0.0.32', link.hostname, link.pathname)).status).toBe(303);
      await until(
        async () => ((await status(a, '127.0.0.32', 'share.replicas.test')) === 200 ? true : undefined),
        5000,
        5,
      );
      await until(async () => ((await viaEdge('127.0.0.32')) === 200 ? true : undefined), 10_000);

      // Revoked on B: refused through A's nginx and the edge following A.
      expect((await b.api('DELETE', `/api/v1/links/${id}`)).status).toBe(200);
      expect(await status(b, '127.0.0.31', 'share.replicas.test')).toBe(403);
      const t1 = performance.now();
      await until(
        async () => ((await status(a, '127.0.0.31', 'share.replicas.test')) === 403 ? true : undefined),
        5000,
        5,
      );
      console.log(
        `replicas: a link revoked on B refused by A's nginx after ${(performance.now() - t1).toFixed(0)} ms`,
      );
      // Each address is announced on its own: the second may land a moment after the first.
      await until(
        async () => ((await status(a, '127.0.0.32', 'share.replicas.test')) === 403 ? true : undefined),
        5000,
        5,
      );
      await until(async () => ((await viaEdge('127.0.0.31')) === 403 ? true : undefined), 10_000);
      await until(async () => ((await viaEdge('127.0.0.32')) === 403 ? true : undefined), 10_000);
    } finally {
      await edge.stop();
    }
  });

  it('a replica started later serves the admissions made before it, not the revoked ones', async () => {
    const created = await b.api('POST', '/api/v1/links', { service: 'share', ttl: '1h' });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const link = new URL(String(created.json.url));
    expect((await from(b, '127.0.0.41', link.hostname, link.pathname)).status).toBe(303);
    const c = await startReplica('c', url, 'replicas.test');
    try {
      await until(
        async () => ((await status(c, '127.0.0.41', 'share.replicas.test')) === 200 ? true : undefined),
        10_000,
      );
      // Revoked in the test above, on B: never written here.
      expect(await status(c, '127.0.0.31', 'share.replicas.test')).toBe(403);
    } finally {
      await stopReplica(c);
    }
  });

  it('an API key made on A passes at B’s nginx; revoked on B, A refuses it', async () => {
    const created = await a.api('POST', '/api/v1/api-keys', { name: 'ci', services: ['keyed'] });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const headers = { authorization: `Bearer ${String(created.json.token)}` };
    const keyed = async (r: Replica) =>
      (await http(r.ports.http, 'keyed.replicas.test', '/', { headers }).catch(() => undefined))?.status;
    expect(await keyed(a)).toBe(200);
    await until(async () => ((await keyed(b)) === 200 ? true : undefined), 10_000);
    const id = (created.json.key as { id: string }).id;
    expect((await b.api('DELETE', `/api/v1/api-keys/${id}`)).status).toBe(200);
    expect(await keyed(b)).toBe(401);
    await until(async () => ((await keyed(a)) === 401 ? true : undefined), 10_000);
  });

  it('a hand-over code issued on A is redeemed on B once, and refused the second time on either', async () => {
    const br = new Browser(a.ports.http);
    await br.login('hana', 'hana password 1', PORTAL);
    const first = await br.get('app.other.test', '/deep/link');
    expect(first.status).toBe(302);
    const portal = await br.follow(first);
    expect(portal.status).toBe(303);
    const handover = new URL(String(portal.headers.location));
    expect(handover.hostname).toBe('app.other.test');
    expect(handover.pathname).toBe('/.gatehouse/session');
    const path = `${handover.pathname}${handover.search}`;
    // The browser's next request reaches B.
    const onB = new Browser(b.ports.http);
    const landed = await onB.get('app.other.test', path);
    expect(landed.status).toBe(303);
    expect(landed.headers.location).toBe('/deep/link');
    const page = await onB.get('app.other.test', '/deep/link');
    expect(page.status).toBe(200);
    expect(page.body).toContain('hana');
    // Used: refused on B and on A.
    expect((await new Browser(b.ports.http).get('app.other.test', path)).status).toBe(400);
    const again = await new Browser(a.ports.http).get('app.other.test', path);
    expect(again.status).toBe(400);
    expect(again.body).toContain('no longer valid');
  });

  it('wrong passwords spread over A and B are throttled as one, on either, with the usual message', async () => {
    const tryOn = (r: Replica, password: string) =>
      new Browser(r.ports.http).post(PORTAL, '/login', { username: 'tess', password, rd: '' });
    for (let i = 0; i < 5; i++) {
      const res = await tryOn(i % 2 ? b : a, `wrong password ${i}`);
      expect(res.status, `attempt ${i + 1}`).toBe(401);
      expect(res.body).toContain('Wrong username or password.');
    }
    // The sixth, even with the right password, is refused on both.
    for (const r of [b, a]) {
      const res = await tryOn(r, 'tess password 1');
      expect(res.status, `on ${r.name}`).toBe(429);
      expect(res.body).toMatch(/Too many failed attempts\. Try again in \d+ seconds\./);
      const wait = Number(res.headers['retry-after']);
      expect(wait).toBeGreaterThan(250);
      expect(wait).toBeLessThanOrEqual(300);
    }
    // Another user is not held back.
    const other = new Browser(b.ports.http);
    await other.login('hana', 'hana password 1', PORTAL);
  });

  it('the management API’s sign-in throttle counts failures on every replica too', async () => {
    const post = (r: Replica, password: string) =>
      json(r.ports.api, 'POST', '/api/v1/session', { username: 'ursula', password });
    for (let i = 0; i < 5; i++) expect((await post(i % 2 ? a : b, `nope nope ${i}`)).status).toBe(401);
    for (const r of [a, b]) {
      const res = await post(r, 'ursula password 1');
      expect(res.status, `on ${r.name}`).toBe(429);
      expect(res.json.error?.message).toMatch(/^too many failed attempts; try again in \d+ s$/);
    }
  });
});
