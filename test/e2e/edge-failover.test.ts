import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeList } from '../../src/api/views/index.js';
import { echoBackend, freePort, http, until, type TestServer } from '../helpers/net.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { BIN, cleanEnv, startReplica, type ReplicaProcess } from '../helpers/replicas.js';
import { testDir } from '../helpers/tmp.js';

const root = resolve(import.meta.dirname, '..', '..');

/**
 * An edge agent given several control URLs (`--control` repeated and comma-separated): the first
 * is dead and the second answers 503, so it follows the third (replica alpha); alpha killed
 * (SIGKILL) during traffic, the edge keeps serving, moves to the next (beta), and the nodes page
 * shows which replica it follows.
 */
describe('edge: several control URLs, failover between replicas', () => {
  let pgc: TestPostgres;
  let alpha: ReplicaProcess;
  let beta: ReplicaProcess;
  let app: TestServer;
  let failing: Server;
  let edge: ChildProcess;
  let edgePort: number;
  const url = (r: ReplicaProcess) => `http://127.0.0.1:${r.apiPort}`;
  const follows = async (r: ReplicaProcess) => {
    const list = (await r.api('GET', '/api/v1/nodes')).json as unknown as NodeList;
    return list.nodes.find((n) => n.name === 'vps');
  };

  beforeAll(async () => {
    pgc = await startPostgres();
    const db = await pgc.createDatabase();
    app = await echoBackend('app');
    alpha = await startReplica('alpha', db);
    const put = await alpha.api('PUT', '/api/v1/services/web', {
      hosts: ['web.failover.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
    });
    expect(put.status, JSON.stringify(put.json)).toBe(201);
    const node = await alpha.api('POST', '/api/v1/nodes', { name: 'vps', role: 'public' });
    expect(node.status).toBe(201);
    beta = await startReplica('beta', db);
    edgePort = await freePort();
    const dead = `http://127.0.0.1:${await freePort()}`;
    // A control plane in trouble (a proxy before a replica that is down): 503 to everything.
    failing = createServer((_req, res) => res.writeHead(503).end('down'));
    await new Promise<void>((r) => failing.listen(0, '127.0.0.1', r));
    const addr = failing.address();
    const sick = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    edge = spawn(
      process.execPath,
      [
        join(root, 'bin', 'gatehouse.js'),
        'edge',
        ...['--control', dead, '--control', `${sick},${url(alpha)},${url(beta)}`],
        ...['--node-token', String(node.json.token)],
        ...['--edge-dir', await testDir('gh-failover-edge-')],
        ...['--edge-http-port', String(edgePort), '--edge-https-port', '0', '--log-level', 'warn'],
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
  }, 90_000);
  afterAll(async () => {
    if (edge && edge.exitCode === null && edge.signalCode === null) {
      const exited = new Promise((r) => edge.once('exit', r));
      edge.kill('SIGTERM');
      await exited;
    }
    await alpha?.stop();
    await beta?.stop();
    await app?.close();
    await new Promise((r) => failing?.close(r));
    await pgc?.stop().catch(() => undefined);
  });

  it('the first URL dead, the second answering 503: the edge follows the third and serves; the nodes page says so', async () => {
    await until(
      async () =>
        (await http(edgePort, 'web.failover.test').catch(() => undefined))?.status === 200 ? true : undefined,
      20_000,
    );
    const n = await until(async () => {
      const v = await follows(beta);
      return v?.replica === 'alpha' ? v : undefined;
    }, 10_000);
    expect(n.control).toBe(url(alpha));
    expect(n.online).toBe(true);
  });

  it('the replica it follows killed during traffic: it keeps serving and moves to the next', async () => {
    let ok = 0;
    const failures: string[] = [];
    let running = true;
    const traffic = (async () => {
      while (running) {
        const r = await http(edgePort, 'web.failover.test').catch((e: unknown) => ({ status: String(e) }));
        if (r.status === 200) ok++;
        else failures.push(String(r.status));
        await new Promise((res) => setTimeout(res, 5));
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    await alpha.kill();
    const n = await until(async () => {
      const v = await follows(beta);
      return v?.replica === 'beta' ? v : undefined;
    }, 10_000);
    console.log(
      `edge failover: follows beta ${Math.round(performance.now() - t0)} ms after alpha was killed`,
    );
    expect(n.control).toBe(url(beta));
    // `gatehouse status` on beta: which replica leads now, and which one the edge follows.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [BIN, 'status', '--data-dir', beta.dataDir],
      {
        env: cleanEnv(),
        timeout: 30_000,
      },
    );
    expect(stdout).toContain(`edge vps:         follows replica beta (${url(beta)})`);
    await new Promise((r) => setTimeout(r, 300));
    running = false;
    await traffic;
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(20);

    // A change on the replica it follows now reaches it.
    const put = await beta.api('PUT', '/api/v1/services/two', {
      hosts: ['two.failover.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
    });
    expect(put.status, JSON.stringify(put.json)).toBe(201);
    await until(
      async () =>
        (await http(edgePort, 'two.failover.test').catch(() => undefined))?.status === 200 ? true : undefined,
      5_000,
      10,
    );
  });
});
