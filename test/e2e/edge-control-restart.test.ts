import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEdgeAgent, type EdgeProcess } from '../helpers/edge.js';
import { alive } from '../helpers/gatehouse.js';
import { echoBackend, freePort, http, json, until, type TestServer } from '../helpers/net.js';
import { testDir } from '../helpers/tmp.js';

const root = resolve(import.meta.dirname, '..', '..');
const ADMIN = 'restart-admin-token-0123456789';

/**
 * The control plane in its own process, killed hard (SIGKILL) and started again while a client
 * keeps asking a remote edge: the edge never stops serving, and takes the next change at once.
 */
describe('edge: control plane killed and restarted during traffic', () => {
  let dataDir: string;
  let ports: { http: number; api: number; register: number };
  let control: ChildProcess | undefined;
  let edge: EdgeProcess;
  let app: TestServer;
  let edgePort: number;

  const startControl = async (): Promise<ChildProcess> => {
    const p = spawn(
      process.execPath,
      [
        join(root, 'bin', 'gatehouse.js'),
        'up',
        '--data-dir',
        dataDir,
        '--http-port',
        String(ports.http),
        '--https-port',
        '0',
        '--api-listen',
        `127.0.0.1:${ports.api}`,
        '--register-listen',
        `127.0.0.1:${ports.register}`,
        '--log-level',
        'warn',
      ],
      {
        env: {
          ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_'))),
          GATEHOUSE_ADMIN_TOKEN: ADMIN,
        },
        stdio: 'ignore',
      },
    );
    await until(
      async () =>
        (await json(ports.api, 'GET', '/healthz').catch(() => undefined))?.status === 200 ? true : undefined,
      30_000,
      50,
    );
    return p;
  };
  const api = (method: string, path: string, body?: unknown) =>
    json(ports.api, method, path, body, { authorization: `Bearer ${ADMIN}` });
  const stopControl = async () => {
    const p = control;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  };

  beforeAll(async () => {
    dataDir = await testDir('gh-restart-');
    ports = { http: await freePort(), api: await freePort(), register: await freePort() };
    app = await echoBackend('app');
    control = await startControl();
    const put = await api('PUT', '/api/v1/services/web', {
      hosts: ['web.restart.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
    });
    expect(put.status, JSON.stringify(put.json)).toBe(201);
    const node = await api('POST', '/api/v1/nodes', { name: 'vps', role: 'public' });
    edgePort = await freePort();
    edge = startEdgeAgent({
      control: `http://127.0.0.1:${ports.api}`,
      token: String(node.json.token),
      dir: await testDir('gh-restart-edge-'),
      httpPort: edgePort,
    });
    await until(
      async () =>
        (await http(edgePort, 'web.restart.test').catch(() => undefined))?.status === 200 ? true : undefined,
      15_000,
    );
  }, 60_000);
  afterAll(async () => {
    await edge?.stop();
    await stopControl();
    await app?.close();
  });

  it('keeps serving through the kill and the restart, then takes the next change', async () => {
    let ok = 0;
    const failures: string[] = [];
    let running = true;
    const traffic = (async () => {
      while (running) {
        const r = await http(edgePort, 'web.restart.test').catch((e: unknown) => ({ status: String(e) }));
        if (r.status === 200) ok++;
        else failures.push(String(r.status));
        await new Promise((res) => setTimeout(res, 5));
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const nginxPid = Number((await readFile(join(dataDir, 'nginx', 'run', 'nginx.pid'), 'utf8')).trim());
    const killed = control as ChildProcess;
    const exited = new Promise((r) => killed.once('exit', r));
    killed.kill('SIGKILL');
    await exited;
    await new Promise((r) => setTimeout(r, 1000));
    control = await startControl();
    // The restarted control plane reaps the nginx the killed one left behind, and starts its own.
    await until(() => (!alive(nginxPid) ? true : undefined), 10_000);
    await new Promise((r) => setTimeout(r, 300));
    running = false;
    await traffic;
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(50);

    const t0 = performance.now();
    await api('PUT', '/api/v1/services/two', {
      hosts: ['two.restart.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
    });
    await until(
      async () =>
        (await http(edgePort, 'two.restart.test').catch(() => undefined))?.status === 200 ? true : undefined,
      5_000,
      5,
    );
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});
