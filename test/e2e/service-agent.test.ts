import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REGISTER_TOKEN, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { freePort, startServer, until, type TestServer } from '../helpers/net.js';
import { GATEHOUSE_BIN, runCli } from '../helpers/netns.js';

/**
 * `gatehouse agent` on a machine without Docker (its own process): registers, heartbeats with its
 * own health check, goes out of rotation when silent or unhealthy, is removed after the grace
 * period, and deregisters on SIGTERM.
 */
describe('service agents', () => {
  let t: TestGatehouse;
  let app: TestServer;
  let healthy = true;
  let agent: ChildProcess | undefined;
  const args = () => [
    '--token',
    REGISTER_TOKEN,
    'agent',
    '--control',
    `http://127.0.0.1:${t.registerPort}`,
    '--service',
    'vm',
    '--upstream',
    `127.0.0.1:${app.port}`,
    '--domain',
    'vm.agent.test',
    '--ttl',
    '3s',
    '--health-path',
    '/status',
    '--log-level',
    'warn',
  ];
  const startAgent = () => {
    agent = spawn(process.execPath, [GATEHOUSE_BIN, ...args()], { stdio: 'ignore' });
    return agent;
  };
  const status = async () => (await t.get('vm.agent.test', '/', { headers: { accept: 'text/html' } })).status;
  const becomes = (code: number, ms: number) =>
    until(async () => ((await status()) === code ? true : undefined), ms, 50);

  beforeAll(async () => {
    t = await startTestGatehouse({ agent_grace: '4s' });
    app = await startServer(
      (req, res) => {
        res.writeHead(req.url === '/status' && !healthy ? 503 : 200);
        res.end('vm');
      },
      await freePort(),
    );
  });
  afterAll(async () => {
    if (agent && agent.exitCode === null && agent.signalCode === null) agent.kill('SIGKILL');
    await t?.close();
    await app?.close();
  });

  it('registers and is served, owned by the agent', async () => {
    startAgent();
    await becomes(200, 10_000);
    const svc = (await t.api('GET', '/api/v1/services/vm')).json as unknown as {
      meta: { source: string; owner: string };
    };
    expect(svc.meta).toMatchObject({ source: 'agent', owner: 'vm' });
  });

  it('goes out of rotation while its own health check fails, and back', async () => {
    healthy = false;
    // One answer carries all of it (on a loaded machine a late heartbeat can briefly suspend the
    // service by its TTL, and the next one bring it back, before the unhealthy report lands).
    const page = await until(async () => {
      const r = await t.get('vm.agent.test', '/', { headers: { accept: 'text/html' } });
      return r.status === 503 && r.body.includes('vm is offline') ? r : undefined;
    }, 5_000);
    expect(page.headers['retry-after']).toBe('10');
    healthy = true;
    await becomes(200, 5_000);
  });

  it('killed: out of rotation after its TTL, removed after the grace period', async () => {
    const a = agent as ChildProcess;
    await becomes(200, 5_000);
    const exited = new Promise((r) => a.once('exit', r));
    a.kill('SIGKILL');
    await exited;
    // Out of rotation once its TTL has passed: still known, answering its offline page.
    await until(() => (t.gh.registry.get('vm')?.service.suspended ? true : undefined), 10_000, 20);
    await becomes(503, 10_000);
    // Removed once the grace period has passed too.
    await becomes(404, 15_000);
    expect(t.gh.registry.get('vm')).toBeUndefined();
  });

  it('deregisters on SIGTERM: the route goes at once', async () => {
    const a = startAgent();
    await becomes(200, 10_000);
    const exited = new Promise((r) => a.once('exit', r));
    a.kill('SIGTERM');
    await exited;
    // Gone as soon as the agent exits: it deregistered (its TTL is far off).
    expect(t.gh.registry.get('vm')).toBeUndefined();
    await becomes(404, 5_000);
  });

  it('refuses bad input naming the field, with a non-zero exit', async () => {
    const bad = await runCli(args().map((a) => (a === 'vm.agent.test' ? 'not a host' : a)));
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/domain\.0: /);
    const refused = await runCli(args().map((a) => (a === `127.0.0.1:${app.port}` ? 'nowhere' : a)));
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('upstreams');
  });
});
