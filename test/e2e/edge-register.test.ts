import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceList, SnapshotList } from '../../src/api/views/index.js';
import { REGISTER_TOKEN, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, freePort, http, until, type TestServer } from '../helpers/net.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startReplica, type ReplicaProcess } from '../helpers/replicas.js';
import { testDir } from '../helpers/tmp.js';

const root = resolve(import.meta.dirname, '..', '..');
const AUTH = { authorization: `Bearer ${REGISTER_TOKEN}` };

type Answer = {
  status: number;
  json: Record<string, unknown> & { error?: { code: string; message: string } };
};

/** A registration API call (JSON), optionally from another loopback address of the client's. */
async function call(
  port: number,
  method: string,
  path: string,
  body?: unknown,
  o: { headers?: Record<string, string>; localAddress?: string; timeoutMs?: number } = {},
): Promise<Answer> {
  const r = await http(port, '127.0.0.1', path, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...o.headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    ...(o.localAddress ? { localAddress: o.localAddress } : {}),
    timeoutMs: o.timeoutMs ?? 10_000,
  });
  let json: Answer['json'] = {};
  try {
    json = JSON.parse(r.body) as Answer['json'];
  } catch {
    // Not JSON: the status says enough.
  }
  return { status: r.status, json };
}

/** `gatehouse edge … --register-listen 127.0.0.1:PORT` (built dist) in its own process. */
async function startEdge(controls: string[], token: string, httpPort: number, registerPort: number) {
  const proc = spawn(
    process.execPath,
    [
      join(root, 'bin', 'gatehouse.js'),
      'edge',
      ...['--control', controls.join(','), '--node-token', token],
      ...['--edge-dir', await testDir('gh-edge-register-')],
      ...['--edge-http-port', String(httpPort), '--edge-https-port', '0', '--log-level', 'warn'],
      ...['--register-listen', `127.0.0.1:${registerPort}`],
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  await until(
    async () =>
      (await call(registerPort, 'GET', '/health').catch(() => undefined))?.status ? true : undefined,
    20_000,
    50,
  );
  return proc;
}

async function stopProc(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await exited;
}

describe('edge --register-listen: registration at the edge, relayed to the control plane (SQLite)', () => {
  let t: TestGatehouse;
  let app: TestServer;
  let edge: ChildProcess | undefined;
  let edgeHttp: number;
  let edgeReg: number;

  beforeAll(async () => {
    // Only 127.0.0.1 may register: the allowlist is checked with the client's own address.
    t = await startTestGatehouse({ register_allow: '127.0.0.1/32' });
    app = await echoBackend('app');
    const node = await t.api('POST', '/api/v1/nodes', { name: 'proxy2', role: 'public' });
    expect(node.status).toBe(201);
    [edgeHttp, edgeReg] = [await freePort(), await freePort()];
    edge = await startEdge([`http://127.0.0.1:${t.apiPort}`], String(node.json.token), edgeHttp, edgeReg);
  }, 60_000);
  afterAll(async () => {
    await stopProc(edge);
    await t?.close().catch(() => undefined);
    await app?.close();
  });

  it('a registration sent to the edge is stored, then served by the edge and the control plane', async () => {
    const body = { subdomain: 'at-edge', backend_ip: '127.0.0.1', backend_port: app.port };
    const first = await call(edgeReg, 'POST', '/register', body, { headers: AUTH });
    expect(first.status, JSON.stringify(first.json)).toBe(201);
    expect(first.json).toMatchObject({ ok: true, subdomain: 'at-edge', hosts: ['at-edge.gw.test'] });
    // Answered only once stored: the control plane has it at that version already.
    const svc = await t.api('GET', '/api/v1/services/at-edge');
    expect(svc.status).toBe(200);
    expect(t.gh.registry.version).toBeGreaterThanOrEqual(Number(first.json.version));
    // The same again (a client retrying after a timeout): idempotent, no new version.
    const again = await call(edgeReg, 'POST', '/register', body, { headers: AUTH });
    expect(again.status).toBe(200);
    expect(again.json.version).toBe(first.json.version);
    await until(async () =>
      (await http(edgeHttp, 'at-edge.gw.test', '/x')).status === 200 ? true : undefined,
    );
    const viaEdge = await http(edgeHttp, 'at-edge.gw.test', '/x');
    expect(JSON.parse(viaEdge.body)).toMatchObject({ backend: 'app', url: '/x' });
    await t.gh.edge.waitFor(Number(first.json.version));
    expect((await t.get('at-edge.gw.test', '/y')).status).toBe(200);
    // The audit trail names the client, not the edge's relay.
    const snaps = await t.api('GET', '/api/v1/snapshots?limit=5');
    const v = (snaps.json as unknown as SnapshotList).snapshots.find((s) => s.version === first.json.version);
    expect(v?.actor).toBe('register:127.0.0.1');
  });

  it("bad input gets the control plane's 4xx naming the field", async () => {
    const badIp = await call(
      edgeReg,
      'POST',
      '/register',
      { subdomain: 'x1', backend_ip: 'nope' },
      { headers: AUTH },
    );
    expect(badIp.status).toBe(400);
    expect(badIp.json.error?.message).toContain('body.backend_ip');
    const badType = await call(
      edgeReg,
      'POST',
      '/register',
      { subdomain: 'x2', backend_ip: '127.0.0.1', backend_port: 80, type: 'nosuch' },
      { headers: AUTH },
    );
    expect(badType.status).toBe(400);
    expect(badType.json.error?.message).toContain('body.type');
    const extra = await call(
      edgeReg,
      'POST',
      '/register',
      { subdomain: 'x3', backend_ip: '127.0.0.1', color: 'red' },
      { headers: AUTH },
    );
    expect(extra.status).toBe(400);
    expect(extra.json.error?.message).toContain('color');
    const notJson = await call(edgeReg, 'POST', '/register', '{', { headers: AUTH });
    expect(notJson.status).toBe(400);
    expect(notJson.json.error?.message).toMatch(/^body: /);
    const big = await call(
      edgeReg,
      'POST',
      '/register',
      { subdomain: 'x4', backend_ip: '127.0.0.1', pad: 'p'.repeat(70_000) },
      { headers: AUTH },
    );
    expect(big.status).toBe(413);
    expect(big.json.error?.message).toContain('too large');
    expect(t.gh.registry.get('x1') ?? t.gh.registry.get('x2') ?? t.gh.registry.get('x3')).toBeUndefined();
  });

  it('a missing or wrong register token: 401; a source outside the allowlist: 403', async () => {
    const body = { subdomain: 'nope', backend_ip: '127.0.0.1', backend_port: 80 };
    const none = await call(edgeReg, 'POST', '/register', body);
    expect(none.status).toBe(401);
    const wrong = await call(edgeReg, 'POST', '/register', body, {
      headers: { authorization: 'Bearer wrong-token-0123456789' },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.json.error).toMatchObject({
      code: 'unauthorized',
      message: 'missing or wrong bearer token',
    });
    // From 127.0.0.2: not in register_allow (the control plane checks the client's address, not the edge's).
    const outside = await call(edgeReg, 'POST', '/register', body, {
      headers: AUTH,
      localAddress: '127.0.0.2',
    });
    expect(outside.status).toBe(403);
    expect(outside.json.error?.code).toBe('forbidden_source');
    expect(t.gh.registry.get('nope')).toBeUndefined();
  });

  it('agent leases and heartbeats, and deregistration, go through the edge too', async () => {
    const lease = {
      name: 'leased',
      domains: ['leased.gw.test'],
      upstreams: [`127.0.0.1:${app.port}`],
    };
    const reg = await call(edgeReg, 'POST', '/agent/v1/register', lease, { headers: AUTH });
    expect(reg.status, JSON.stringify(reg.json)).toBe(201);
    const beat = await call(
      edgeReg,
      'POST',
      '/agent/v1/heartbeat',
      { name: 'leased', healthy: true },
      { headers: AUTH },
    );
    expect(beat.status, JSON.stringify(beat.json)).toBe(200);
    const gone = await call(edgeReg, 'POST', '/deregister', { subdomain: 'at-edge' }, { headers: AUTH });
    expect(gone.status).toBe(200);
    expect(t.gh.registry.get('at-edge')).toBeUndefined();
    const twice = await call(edgeReg, 'POST', '/deregister', { subdomain: 'at-edge' }, { headers: AUTH });
    expect(twice.status).toBe(404);
    expect(twice.json.error?.message).toContain('at-edge is not registered');
  });

  it('the control plane down: 503 with a clear message, never a 500', async () => {
    await t.close();
    const r = await call(
      edgeReg,
      'POST',
      '/register',
      { subdomain: 'later', backend_ip: '127.0.0.1', backend_port: 80 },
      { headers: AUTH },
    );
    expect(r.status).toBe(503);
    expect(r.json.error?.code).toBe('control_plane_unavailable');
    expect(r.json.error?.message).toMatch(/^no control-plane replica answered \(http:\/\/127\.0\.0\.1:\d+: /);
    expect(r.json.error?.message).toContain('nothing was stored');
    console.log(`edge register, control plane down: 503 ${r.json.error?.message}`);
  });
});

describe('edge --register-listen with two replicas on one PostgreSQL: kill -9 the one followed', () => {
  let pgc: TestPostgres;
  let alpha: ReplicaProcess;
  let beta: ReplicaProcess;
  let app: TestServer;
  let edge: ChildProcess | undefined;
  let edgeHttp: number;
  let edgeReg: number;
  const env = { GATEHOUSE_REGISTER_TOKEN: REGISTER_TOKEN, GATEHOUSE_BASE_DOMAIN: 'ha.test' };
  const url = (r: ReplicaProcess) => `http://127.0.0.1:${r.apiPort}`;

  beforeAll(async () => {
    pgc = await startPostgres();
    const db = await pgc.createDatabase();
    app = await echoBackend('app');
    alpha = await startReplica('alpha', db, { env });
    beta = await startReplica('beta', db, { env });
    const node = await alpha.api('POST', '/api/v1/nodes', { name: 'proxy1', role: 'public' });
    expect(node.status).toBe(201);
    [edgeHttp, edgeReg] = [await freePort(), await freePort()];
    edge = await startEdge([url(alpha), url(beta)], String(node.json.token), edgeHttp, edgeReg);
  }, 90_000);
  afterAll(async () => {
    await stopProc(edge);
    await alpha?.stop();
    await beta?.stop();
    await app?.close();
    await pgc?.stop().catch(() => undefined);
  });

  it('200 registrations, alpha killed during the burst: every one lands exactly once', async () => {
    const N = 200;
    const CLIENTS = 8;
    // The relay's cost: one at a time, straight to alpha's listener and through the edge.
    const one = async (port: number, name: string) => {
      const t0 = performance.now();
      const r = await call(
        port,
        'POST',
        '/register',
        { subdomain: name, backend_ip: '127.0.0.1', backend_port: app.port },
        { headers: AUTH },
      );
      expect(r.status, JSON.stringify(r.json)).toBe(201);
      return performance.now() - t0;
    };
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const direct: number[] = [];
    const relayed: number[] = [];
    for (let i = 0; i < 20; i++) {
      direct.push(await one(alpha.registerPort, `warm-d${i}`));
      relayed.push(await one(edgeReg, `warm-e${i}`));
    }
    console.log(
      `edge register, one at a time: median ${median(direct).toFixed(1)} ms at alpha's listener, ${median(relayed).toFixed(1)} ms through the edge`,
    );
    const before = Number((await beta.api('GET', '/api/v1/services')).json.version);
    const stats = { viaEdge: 0, direct: 0, retries: 0, worst: 0 };
    const failures: string[] = [];
    let done = 0;
    let killedAt = 0;
    let killing: Promise<void> | undefined;
    /** One registration, retried on failure: again at the edge, then at beta's own listener. */
    const register = async (i: number) => {
      const body = { subdomain: `r${i}`, backend_ip: '127.0.0.1', backend_port: app.port };
      const t0 = performance.now();
      for (let attempt = 0; attempt < 20; attempt++) {
        const port = attempt % 2 === 0 ? edgeReg : beta.registerPort;
        const r = await call(port, 'POST', '/register', body, { headers: AUTH, timeoutMs: 5_000 }).catch(
          (e: unknown) => ({ status: 0, json: { error: { code: 'network', message: String(e) } } }) as Answer,
        );
        if (r.status === 201 || r.status === 200) {
          if (port === edgeReg) stats.viaEdge++;
          else stats.direct++;
          stats.worst = Math.max(stats.worst, performance.now() - t0);
          return;
        }
        stats.retries++;
        if (r.status !== 503 && r.status !== 0) failures.push(`r${i}: ${r.status} ${JSON.stringify(r.json)}`);
        await new Promise((res) => setTimeout(res, 50));
      }
      failures.push(`r${i}: no answer after 20 attempts`);
    };
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (next < N) {
          const i = next++;
          await register(i);
          done++;
          // A third of the way in, the replica the edge follows dies (SIGKILL: no goodbye).
          if (done === Math.floor(N / 3) && !killing) {
            killedAt = done;
            killing = alpha.kill();
          }
        }
      }),
    );
    const ms = performance.now() - t0;
    await killing;
    expect(failures).toEqual([]);

    // Every registration is there once: 200 services r0..r199, each created by exactly one version.
    const list = (await beta.api('GET', '/api/v1/services')).json as unknown as ServiceList;
    const names = list.services.map((s) => s.service.name).filter((n) => /^r[0-9]+$/.test(n));
    expect(names.length).toBe(N);
    expect(new Set(names).size).toBe(N);
    const snaps = (await beta.api('GET', '/api/v1/snapshots?limit=1000')).json as unknown as SnapshotList;
    const burst = snaps.snapshots.filter((s) => s.version > before).sort((a, b) => a.version - b.version);
    const creates = new Map<string, number>();
    for (const s of burst)
      for (const c of s.changes) if (c.op === 'create') creates.set(c.name, (creates.get(c.name) ?? 0) + 1);
    for (let i = 0; i < N; i++) expect(creates.get(`r${i}`), `r${i}`).toBe(1);
    expect(burst.flatMap((s) => s.changes).filter((c) => c.op !== 'create')).toEqual([]);
    // Versions gap-free across the two replicas.
    const versions = burst.map((s) => s.version);
    expect(versions).toEqual(Array.from({ length: versions.length }, (_, k) => before + 1 + k));

    // A client that timed out and retries elsewhere (the edge, or beta's own listener): no duplicate,
    // no new version.
    const last = versions.at(-1);
    for (let i = 0; i < 10; i++) {
      const body = { subdomain: `r${i}`, backend_ip: '127.0.0.1', backend_port: app.port };
      const r = await call(i % 2 ? edgeReg : beta.registerPort, 'POST', '/register', body, { headers: AUTH });
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      expect(Number(r.json.version)).toBeLessThanOrEqual(Number(last));
    }
    expect((await beta.api('GET', '/api/v1/services')).json.version).toBe(last);

    // And served: through the edge's nginx (now following beta) and beta's own.
    await until(
      async () => ((await http(edgeHttp, `r${N - 1}.ha.test`, '/')).status === 200 ? true : undefined),
      10_000,
    );
    let served = 0;
    for (let i = 0; i < N; i++) {
      if ((await http(edgeHttp, `r${i}.ha.test`, '/')).status === 200) served++;
    }
    expect(served).toBe(N);
    expect((await http(beta.httpPort, `r0.ha.test`, '/')).status).toBe(200);
    console.log(
      `edge register burst: ${N} registrations from ${CLIENTS} clients in ${Math.round(ms)} ms ` +
        `(${Math.round((N / ms) * 1000)}/s); alpha killed after ${killedAt}; ${stats.viaEdge} answered via the edge, ` +
        `${stats.direct} directly by beta, ${stats.retries} retries, slowest ${Math.round(stats.worst)} ms; ` +
        `${versions.length} versions v${versions[0]}..v${versions.at(-1)} gap-free; ${served}/${N} served by the edge`,
    );
  }, 120_000);
});
