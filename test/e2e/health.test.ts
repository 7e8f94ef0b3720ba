import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { startServer, until, type TestServer } from '../helpers/net.js';

/** Active health checks take a failing upstream out of rotation and bring it back. */
describe('active health checks', () => {
  let t: TestGatehouse;
  const healthy = { a: true, b: true };
  const servers: TestServer[] = [];

  beforeAll(async () => {
    t = await startTestGatehouse();
    for (const name of ['a', 'b'] as const) {
      servers.push(
        await startServer((req, res) => {
          if (req.url === '/status') {
            res.writeHead(healthy[name] ? 200 : 503);
            return res.end();
          }
          res.end(name);
        }),
      );
    }
    const r = await t.api('PUT', '/api/v1/services/checked?wait=true', {
      hosts: ['checked.test'],
      routes: [
        {
          path: '/',
          upstreams: servers.map((s) => `127.0.0.1:${s.port}`),
          health: { path: '/status', interval: '100ms', timeout: '500ms' },
        },
      ],
    });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
    for (const s of servers) await s.close();
  });

  const spread = async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) seen.add((await t.get('checked.test')).body);
    return [...seen].sort();
  };

  it('balances over both while both are healthy', async () => {
    expect(await spread()).toEqual(['a', 'b']);
  });

  it('marks a failing upstream down, shows it in status, and brings it back, without a reload', async () => {
    const before = t.gh.edge.getStatus();
    healthy.b = false;
    const downKey = `checked-r0 127.0.0.1:${servers[1]!.port}`;
    await until(() => (t.gh.edge.getStatus().downServers.includes(downKey) ? true : undefined), 5000);
    await t.gh.edge.waitFor(t.gh.registry.version);
    await until(async () => ((await spread()).join() === 'a' ? true : undefined), 5000);
    const s = await t.api('GET', '/api/v1/status');
    expect((s.json.edge as { downServers: string[] }).downServers).toEqual([downKey]);
    // The pool's down servers are in nginx's shared memory: sent there, nginx not reloaded.
    expect(t.gh.edge.getStatus().lastApplyMode).toBe('dynamic');
    expect(t.gh.edge.getStatus().lastReload).toEqual(before.lastReload);
    healthy.b = true;
    await until(async () => ((await spread()).join() === 'a,b' ? true : undefined), 5000);
    // Status is updated by the checker after it restores the server; allow it a moment.
    await until(() => (t.gh.edge.getStatus().downServers.length === 0 ? true : undefined), 2000);
    expect(t.gh.edge.getStatus().downServers).toEqual([]);
    const after = t.gh.edge.getStatus();
    expect(after.applies).toBeGreaterThanOrEqual(before.applies + 2);
    expect(after.lastApplyMode).toBe('dynamic');
    expect(after.lastReload).toEqual(before.lastReload);
    expect(after.proxy.pid).toBe(before.proxy.pid);
  });

  it('suspends, resumes and changes the servers of a service without a reload', async () => {
    const before = t.gh.edge.getStatus();
    const put = async (body: Record<string, unknown>) => {
      const r = await t.api('PUT', '/api/v1/services/checked?wait=true', {
        hosts: ['checked.test'],
        routes: [
          {
            path: '/',
            upstreams: servers.map((s) => `127.0.0.1:${s.port}`),
            health: { path: '/status', interval: '100ms', timeout: '500ms' },
          },
        ],
        ...body,
      });
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      expect(t.gh.edge.getStatus().lastApplyMode).toBe('dynamic');
    };
    await put({ suspended: true });
    const off = await t.get('checked.test');
    expect(off.status).toBe(503);
    expect(off.body).toContain('checked is offline');
    await put({});
    expect(await spread()).toEqual(['a', 'b']);
    await put({ routes: [{ path: '/', upstreams: [`127.0.0.1:${servers[1]!.port}`] }] });
    expect(await spread()).toEqual(['b']);
    const after = t.gh.edge.getStatus();
    expect(after.lastReload).toEqual(before.lastReload);
    expect(after.proxy.pid).toBe(before.proxy.pid);
  });
});
