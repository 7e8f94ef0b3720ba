import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../helpers/browser.js';
import { startEdgeAgent } from '../helpers/edge.js';
import { echoBackend, freePort, http, json, until, type TestServer } from '../helpers/net.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startReplica as startOne, stopReplica, type Replica } from '../helpers/replica.js';
import { testDir } from '../helpers/tmp.js';
import { https, makeCa } from '../helpers/tls.js';

const startReplica = (name: string, url: string): Promise<Replica> => startOne(name, url, 'replicas.test');

/** Milliseconds until `host` answers 200 through `r`'s nginx (asking every 2 ms). */
async function servedAfter(r: Replica, host: string, t0: number, timeoutMs: number): Promise<number> {
  await until(
    async () => ((await r.get(host).catch(() => undefined))?.status === 200 ? true : undefined),
    timeoutMs,
    2,
  );
  return performance.now() - t0;
}

const service = (name: string, port: number) => ({
  name,
  hosts: [`${name}.replicas.test`],
  routes: [{ path: '/', upstreams: [`127.0.0.1:${port}`] }],
});

describe('replicas: two gatehouse processes on one PostgreSQL', () => {
  let pgc: TestPostgres;
  let url: string;
  let app: TestServer;
  let a: Replica;
  let b: Replica;

  beforeAll(async () => {
    pgc = await startPostgres();
    url = await pgc.createDatabase();
    app = await echoBackend('app');
    // Started together: one migrates the empty database, the other waits for it.
    [a, b] = await Promise.all([startReplica('a', url), startReplica('b', url)]);
  }, 120_000);
  afterAll(async () => {
    await stopReplica(a);
    await stopReplica(b);
    await app?.close();
    await pgc?.stop().catch(() => undefined);
  });

  const versions = async (): Promise<number[]> => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const { rows } = await c.query<{ version: number }>('select version from versions order by version');
      return rows.map((r) => Number(r.version));
    } finally {
      await c.end();
    }
  };

  it('a service created on A is served by B’s nginx within moments of A’s answer', async () => {
    const figures: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await a.api('POST', '/api/v1/services?wait=true', service(`first${i}`, app.port));
      expect(res.status, JSON.stringify(res.json)).toBe(201);
      figures.push(await servedAfter(b, `first${i}.replicas.test`, performance.now(), 5000));
    }
    console.log(
      `replicas: a write on A served by B's nginx after ${figures.map((f) => f.toFixed(0)).join(', ')} ms`,
    );
    // Goal 100 ms (the issue); a generous bound for a loaded CI machine.
    expect(Math.max(...figures)).toBeLessThan(2000);
    // B's API answers it too, with A's metadata.
    const got = await b.api('GET', '/api/v1/services/first0');
    expect(got.status).toBe(200);
    expect(JSON.stringify(got.json)).toContain('first0.replicas.test');
  });

  it('concurrent writes on both replicas: versions without gap or duplicate, the same services on both', async () => {
    const writes: Promise<Awaited<ReturnType<typeof json>>>[] = [];
    for (let i = 0; i < 50; i++) {
      writes.push(a.api('PUT', `/api/v1/services/ca${i}`, service(`ca${i}`, app.port)));
      writes.push(b.api('PUT', `/api/v1/services/cb${i}`, service(`cb${i}`, app.port)));
    }
    const answers = await Promise.all(writes);
    const bad = answers.filter((r) => r.status !== 201 && r.status !== 200);
    expect(bad.map((r) => `${r.status} ${JSON.stringify(r.json)}`)).toEqual([]);
    const stored = await versions();
    expect(stored).toEqual(Array.from({ length: stored.length }, (_, i) => i + 1));
    expect(stored.length).toBe(105);
    const list = async (r: Replica) =>
      (await r.api('GET', '/api/v1/services')).json as { version: number; services: { name: string }[] };
    await until(
      async () => ((await list(a)).version === 105 && (await list(b)).version === 105 ? true : undefined),
      5000,
    );
    const [la, lb] = [await list(a), await list(b)];
    expect(la.services.map((s) => s.name)).toEqual(lb.services.map((s) => s.name));
    expect(la.services).toHaveLength(105);
    expect((await b.get('ca49.replicas.test')).status).toBe(200);
    expect((await a.get('cb49.replicas.test')).status).toBe(200);
  });

  it('creating on B a name A just created is a 409, also when both race', async () => {
    expect((await a.api('POST', '/api/v1/services', service('dup', app.port))).status).toBe(201);
    const late = await b.api('POST', '/api/v1/services', service('dup', app.port));
    expect(late.status, JSON.stringify(late.json)).toBe(409);
    for (let i = 0; i < 5; i++) {
      const both = await Promise.all([
        a.api('POST', '/api/v1/services', service(`race${i}`, app.port)),
        b.api('POST', '/api/v1/services', service(`race${i}`, app.port)),
      ]);
      expect(both.map((r) => r.status).sort(), JSON.stringify(both.map((r) => r.json))).toEqual([201, 409]);
    }
  });

  it('a certificate uploaded on A is served by B’s nginx', async () => {
    const tls = makeCa(await testDir('gh-replicas-ca-'));
    expect((await a.api('POST', '/api/v1/services?wait=true', service('tls', app.port))).status).toBe(201);
    await servedAfter(b, 'tls.replicas.test', performance.now(), 5000);
    const { cert, key } = tls.issue(['tls.replicas.test']);
    const up = await a.api('POST', '/api/v1/certificates?wait=true', { cert, key });
    expect(up.status, JSON.stringify(up.json)).toBe(201);
    const fingerprint = String((up.json as { fingerprint?: string }).fingerprint);
    const t0 = performance.now();
    // No registry write follows: B learns of it from A's notification alone.
    const res = await until(
      async () => {
        const r = await https(b.ports.https, 'tls.replicas.test', '/', tls.ca).catch(() => undefined);
        return r?.fingerprint === fingerprint ? r : undefined;
      },
      10_000,
      10,
    );
    console.log(
      `replicas: a certificate uploaded on A served by B after ${(performance.now() - t0).toFixed(0)} ms`,
    );
    expect(res.status).toBe(200);
  });

  it('an edge that follows B serves a write made on A', async () => {
    const node = await a.api('POST', '/api/v1/nodes', { name: 'edge-b', role: 'public' });
    expect(node.status, JSON.stringify(node.json)).toBe(201);
    const edgePort = await freePort();
    const edge = startEdgeAgent({
      control: `http://127.0.0.1:${b.ports.api}`,
      token: String(node.json.token),
      dir: await testDir('gh-replicas-edge-'),
      httpPort: edgePort,
    });
    try {
      const viaEdge = (host: string) => http(edgePort, host).catch(() => undefined);
      await until(
        async () => ((await viaEdge('first0.replicas.test'))?.status === 200 ? true : undefined),
        30_000,
      );
      const figures: number[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await a.api('POST', '/api/v1/services', service(`edge${i}`, app.port));
        expect(res.status).toBe(201);
        const t0 = performance.now();
        await until(
          async () => ((await viaEdge(`edge${i}.replicas.test`))?.status === 200 ? true : undefined),
          5000,
          2,
        );
        figures.push(performance.now() - t0);
      }
      console.log(
        `replicas: a write on A served by an edge following B after ${figures.map((f) => f.toFixed(0)).join(', ')} ms`,
      );
      expect(Math.max(...figures)).toBeLessThan(2000);
    } finally {
      await edge.stop();
    }
  });

  it('a session revoked on A is refused by B’s nginx within moments, and by a replica started later', async () => {
    const user = { username: 'rita', password: 'rita password 1' };
    expect((await a.api('POST', '/api/v1/users', user)).status).toBe(201);
    const guarded = {
      hosts: ['guarded.replicas.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
      access: { login: {} },
    };
    expect((await a.api('PUT', '/api/v1/services/guarded?wait=true', guarded)).status).toBe(201);
    const signIn = async () => {
      const br = new Browser(a.ports.http);
      await br.login(user.username, user.password, 'auth.replicas.test');
      return br.cookie as string;
    };
    const revoked = await signIn();
    const kept = await signIn();
    const through = (r: Replica, cookie: string) =>
      http(r.ports.http, 'guarded.replicas.test', '/', {
        headers: { cookie: `gh_session=${cookie}`, accept: 'text/html' },
      });
    await until(async () => ((await through(b, revoked)).status === 200 ? true : undefined), 10_000, 20);
    // The older of rita's two sessions is the first sign-in's.
    const list = (await a.api('GET', '/api/v1/sessions')).json.sessions as { id: string; username: string }[];
    const mine = list.filter((x) => x.username === 'rita');
    expect(mine).toHaveLength(2);
    const t0 = performance.now();
    expect((await a.api('DELETE', `/api/v1/sessions/${mine[1]!.id}`)).status).toBe(200);
    await until(async () => ((await through(b, revoked)).status !== 200 ? true : undefined), 5000, 2);
    console.log(
      `replicas: a session revoked on A refused by B's nginx after ${(performance.now() - t0).toFixed(0)} ms`,
    );
    expect([302, 401]).toContain((await through(b, revoked)).status);
    expect((await through(b, kept)).status).toBe(200);
    // A replica that was not listening when it happened reads it from the store as it connects.
    const c = await startReplica('c', url);
    try {
      await until(async () => ((await through(c, kept)).status === 200 ? true : undefined), 10_000, 20);
      expect([302, 401]).toContain((await through(c, revoked)).status);
    } finally {
      await stopReplica(c);
    }
  });

  it('PostgreSQL restarted: B catches up on writes made on A after it returns', async () => {
    await pgc.stop();
    await new Promise((r) => setTimeout(r, 500));
    await pgc.start();
    // A's pool reconnects on its next query: a write may answer 503 once while it does.
    const put = await until(
      async () => {
        const r = await a.api('POST', '/api/v1/services', service('after', app.port));
        return r.status === 201 ? r : undefined;
      },
      15_000,
      100,
    );
    const t0 = performance.now();
    expect(put.status).toBe(201);
    const ms = await servedAfter(b, 'after.replicas.test', t0, 15_000);
    console.log(`replicas: after a PostgreSQL restart, B served A's write after ${ms.toFixed(0)} ms`);
    // And the other way, now that both follow again.
    const t1 = performance.now();
    expect((await b.api('POST', '/api/v1/services', service('back', app.port))).status).toBe(201);
    const back = await servedAfter(a, 'back.replicas.test', t1, 5000);
    console.log(`replicas: then a write on B served by A's nginx after ${back.toFixed(0)} ms`);
    const stored = await versions();
    expect(stored).toEqual(Array.from({ length: stored.length }, (_, i) => i + 1));
    const warned = b.stderr.join('');
    expect(warned).toContain('lost the database connection that follows the other replicas');
  });
});
