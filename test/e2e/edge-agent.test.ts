import { spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { startGatehouse } from '../../src/gatehouse.js';
import { createLogger } from '../../src/observe/log.js';
import { join } from 'node:path';
import { startEdgeAgent } from '../helpers/edge.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, freePort, http, json, until, type TestServer } from '../helpers/net.js';
import { testDir } from '../helpers/tmp.js';
import { journalVersion } from '../../src/drivers/nginx/state-journal.js';

/** A process's children (nginx's workers), sorted. */
function childPids(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
    .trim()
    .split(/\s+/)
    .map(Number)
    .sort((a, b) => a - b);
}

/** An edge node in its own process: enrolled, long-polling the control plane, serving with its nginx. */
describe('edge agent (first part of issue 5)', () => {
  let t: TestGatehouse;
  let app: TestServer;
  let agent: ChildProcess;
  let edgeDir: string;
  let edgePort: number;
  let token: string;
  const up = () => [`127.0.0.1:${app.port}`];

  beforeAll(async () => {
    t = await startTestGatehouse();
    app = await echoBackend('app');
    const r = await t.api('POST', '/api/v1/nodes', { name: 'vps', role: 'public' });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    token = String(r.json.token);
    expect(String(r.json.command)).toContain(`--node-token ${token}`);
    edgeDir = await testDir('gh-edge-');
    edgePort = await freePort();
    agent = startAgent();
  });

  const startAgent = (enrolled = false) =>
    startEdgeAgent({
      ...(enrolled ? {} : { control: `http://127.0.0.1:${t.apiPort}`, token }),
      dir: edgeDir,
      httpPort: edgePort,
    }).proc;
  const stopAgent = async () => {
    if (agent.exitCode !== null || agent.signalCode !== null) return;
    const exited = new Promise((r) => agent.once('exit', r));
    agent.kill('SIGTERM');
    await exited;
  };
  const serves = async (host: string) => (await http(edgePort, host).catch(() => undefined))?.status === 200;
  afterAll(async () => {
    if (agent) await stopAgent();
    await t?.close();
    await app?.close();
  });

  it('serves what the control plane holds, and each change within moments', async () => {
    await t.api('PUT', '/api/v1/services/web?wait=true', {
      hosts: ['web.edge.test'],
      routes: [{ upstreams: up() }],
    });
    await until(
      async () =>
        (await http(edgePort, 'web.edge.test').catch(() => undefined))?.status === 200 ? true : undefined,
      15_000,
    );
    const t0 = performance.now();
    await t.api('PUT', '/api/v1/services/two', { hosts: ['two.edge.test'], routes: [{ upstreams: up() }] });
    await until(
      async () =>
        (await http(edgePort, 'two.edge.test').catch(() => undefined))?.status === 200 ? true : undefined,
      5_000,
      2,
    );
    expect(performance.now() - t0).toBeLessThan(2000);
    // It reports what it applied: the control plane's own config hash.
    const node = await until(async () => {
      const n = (
        (await t.api('GET', '/api/v1/nodes')).json as unknown as {
          nodes: {
            in_sync: boolean;
            online: boolean;
            version: string;
            applied_version: number;
            last_seen: string | null;
          }[];
        }
      ).nodes[0];
      return n?.in_sync ? n : undefined;
    }, 5_000);
    expect(node.last_seen).toBeTruthy();
    expect(node.online).toBe(true);
    expect(node.applied_version).toBe(t.gh.registry.version);
    expect(node.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('takes a simple registration into its running nginx, without a reload', async () => {
    const prefix = join(edgeDir, 'nginx');
    const master = Number((await readFile(join(prefix, 'run', 'nginx.pid'), 'utf8')).trim());
    const workers = childPids(master);
    const generation = await readlink(join(prefix, 'current'));
    const r = await t.reg('POST', '/register', {
      subdomain: 'dyn',
      backend_ip: '127.0.0.1',
      backend_port: app.port,
      type: 'simple',
    });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    await until(async () => ((await serves('dyn.gw.test')) ? true : undefined), 5_000, 2);
    // The same workers, the same generation of files: the edge's nginx was not reloaded.
    expect(childPids(master)).toEqual(workers);
    expect(await readlink(join(prefix, 'current'))).toBe(generation);
    // nginx's shared memory holds the table its state file holds, which has the new host.
    const table = await readFile(join(prefix, 'current', 'fast-lane.tsv'), 'utf8');
    // The host names its pool; the pool line holds the backend's address.
    const pool = /^dyn\.gw\.test\thttp\t(@[^\t]+)\t/m.exec(table)?.[1];
    expect(pool, table).toBeDefined();
    expect(table).toMatch(new RegExp(`^${pool}\\thttp\\tround_robin\\t127\\.0\\.0\\.1:\\d+\\t`, 'm'));
    const memory = await http(0, 'localhost', '/fast-lane', {
      socketPath: join(prefix, 'run', 'status.sock'),
    });
    // The file is a journal (state-journal.ts): the version it reaches is its last patch's.
    expect(journalVersion(table)).toBe(memory.body);
  });

  it('a public edge serves only what is exposed publicly', async () => {
    await t.api('PUT', '/api/v1/services/intranet?wait=true', {
      hosts: ['intranet.edge.test'],
      expose: 'lan',
      routes: [{ upstreams: up() }],
    });
    await t.api('PUT', '/api/v1/services/shop?wait=true', {
      hosts: ['shop.edge.test'],
      expose: 'public',
      routes: [{ upstreams: up() }],
    });
    await until(async () => ((await serves('shop.edge.test')) ? true : undefined), 5_000);
    expect(await serves('intranet.edge.test')).toBe(false);
    // The control plane's own edge serves both.
    expect((await t.get('intranet.edge.test')).status).toBe(200);
  });

  it('refuses a wrong node token; the admin token is not a node token', async () => {
    expect(
      (await json(t.apiPort, 'GET', '/edge/v1/config?wait=0', undefined, { authorization: 'Bearer nope' }))
        .status,
    ).toBe(401);
    const bad = await json(t.apiPort, 'GET', '/edge/v1/config?wait=0&have=xyz', undefined, {
      authorization: `Bearer ${token}`,
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error?.message).toMatch(/^query\.have: /);
  });

  it('refuses bad flags with a message naming each, and a non-zero exit', () => {
    const r = spawnSync(
      process.execPath,
      [
        join(import.meta.dirname, '..', '..', 'bin', 'gatehouse.js'),
        'edge',
        '--control',
        'not a url',
        '--node-token',
        token,
        '--edge-http-port',
        '99999',
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: control: /);
    expect(r.stderr).toContain('edge-http-port: ');
  });

  it('stops its nginx with it', async () => {
    const pid = Number((await readFile(join(edgeDir, 'nginx', 'run', 'nginx.pid'), 'utf8')).trim());
    expect(alive(pid)).toBe(true);
    const exited = new Promise((r) => agent.once('exit', r));
    agent.kill('SIGTERM');
    await exited;
    expect(alive(pid)).toBe(false);
  });

  it('restarted while the control plane is down, serves from its encrypted cache within seconds', async () => {
    const cache = await readFile(join(edgeDir, 'state.cache'));
    expect(cache.includes(Buffer.from('web.edge.test'))).toBe(false);
    const settings = t.gh.settings;
    await t.gh.close();
    // Enrolled: the credentials were stored (root-only) at the first start; no flags needed now.
    expect((await stat(join(edgeDir, 'credentials.json'))).mode & 0o777).toBe(0o600);
    const t0 = performance.now();
    agent = startAgent(true);
    await until(async () => ((await serves('web.edge.test')) ? true : undefined), 10_000, 10);
    // The figure (≤ 2 s, ~0.8–1.2 s measured) is the bench's P7; a loaded CI machine gets slack here.
    expect(performance.now() - t0).toBeLessThan(5000);
    await stopAgent();
    // A damaged cache is never served: the edge waits for the control plane.
    const bad = Buffer.from(cache);
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 0xff;
    await writeFile(join(edgeDir, 'state.cache'), bad);
    agent = startAgent();
    await new Promise((r) => setTimeout(r, 1500));
    expect(await serves('web.edge.test')).toBe(false);
    // The control plane returns: the edge catches up.
    t.gh = await startGatehouse(settings, createLogger('silent'));
    await until(async () => ((await serves('two.edge.test')) ? true : undefined), 10_000);
    expect(await serves('intranet.edge.test')).toBe(false);
  });

  it('a removed node stops serving and drops its cache', async () => {
    expect((await t.api('DELETE', '/api/v1/nodes/vps')).status).toBe(200);
    await until(
      async () => ((await http(edgePort, 'web.edge.test').catch(() => undefined)) ? undefined : true),
      5_000,
      50,
    );
    await until(
      async () => ((await stat(join(edgeDir, 'state.cache')).catch(() => undefined)) ? undefined : true),
      2_000,
    );
    await stopAgent();
  });
});
