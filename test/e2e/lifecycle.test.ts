import { appendFile, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse } from '../../src/gatehouse.js';
import { createLogger } from '../../src/observe/log.js';
import { alive, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, until, type TestServer } from '../helpers/net.js';

interface SnapshotList {
  snapshots: {
    version: number;
    reason: string;
    source: string;
    actor: string;
    changes: { name: string; op: string }[];
  }[];
}

describe('snapshots, rollback and the managed nginx', () => {
  let t: TestGatehouse;
  let a: TestServer;
  let b: TestServer;
  const svc = (name: string, port: number) => ({
    hosts: [`${name}.test`],
    routes: [{ upstreams: [`127.0.0.1:${port}`] }],
  });
  const backendOf = async (host: string) => {
    const r = await t.get(host);
    return r.status === 200 ? (JSON.parse(r.body) as { backend: string }).backend : r.status;
  };

  beforeAll(async () => {
    t = await startTestGatehouse({ drift_check_interval: '200ms', nginx_log_max_mb: 1 });
    a = await echoBackend('a');
    b = await echoBackend('b');
  });
  afterAll(async () => {
    await t?.close();
    await a?.close();
    await b?.close();
  });

  it('records each change as a version, diffs and rolls back', async () => {
    const v1 = (await t.api('PUT', '/api/v1/services/one?wait=true', svc('one', a.port))).json
      .version as number;
    const v2 = (await t.api('PUT', '/api/v1/services/one?wait=true', svc('one', b.port))).json
      .version as number;
    const v3 = (await t.api('PUT', '/api/v1/services/two?wait=true', svc('two', a.port))).json
      .version as number;
    expect([v2 - v1, v3 - v2]).toEqual([1, 1]);
    expect(await backendOf('one.test')).toBe('b');

    const list = (await t.api('GET', '/api/v1/snapshots?limit=3')).json as unknown as SnapshotList;
    expect(list.snapshots.map((s) => s.version)).toEqual([v3, v2, v1]);
    expect(list.snapshots[0]).toMatchObject({
      source: 'api',
      actor: 'admin',
      changes: [{ name: 'two', op: 'create' }],
    });
    expect(list.snapshots[1]?.changes).toEqual([{ name: 'one', op: 'update' }]);

    const diff = await t.api('GET', `/api/v1/snapshots/diff?from=${v1}&to=${v3}`);
    const changes = diff.json.changes as { name: string; op: string; patch: string }[];
    expect(changes.map((c) => [c.name, c.op])).toEqual([
      ['one', 'update'],
      ['two', 'create'],
    ]);
    expect(changes[0]?.patch).toContain(`-      - 127.0.0.1:${a.port}`);
    expect(changes[0]?.patch).toContain(`+      - 127.0.0.1:${b.port}`);

    const shown = await t.api('GET', `/api/v1/snapshots/${v1}`);
    expect((shown.json.services as { service: { name: string } }[]).map((s) => s.service.name)).toContain(
      'one',
    );
    expect(shown.json.hash).toMatch(/^[0-9a-f]{64}$/);

    const rb = await t.api('POST', `/api/v1/snapshots/${v1}/rollback`, { wait: true });
    expect(rb.status, JSON.stringify(rb.json)).toBe(200);
    expect(rb.json.version).toBe(v3 + 1);
    expect((rb.json.changed as string[]).sort()).toEqual(['one', 'two']);
    expect(await backendOf('one.test')).toBe('a');
    expect(await backendOf('two.test')).toBe(404);
    const latest = (await t.api('GET', '/api/v1/snapshots?limit=1')).json as unknown as SnapshotList;
    expect(latest.snapshots[0]?.reason).toBe(`rollback to version ${v1}`);
    // The rolled-back state compiles to the same config as the version it restored.
    const now = await t.api('GET', `/api/v1/snapshots/${v3 + 1}`);
    expect(now.json.hash).toBe(shown.json.hash);
  });

  it('needs force for a change that removes every route', async () => {
    const state = await t.api('GET', '/api/v1/services');
    const names = (state.json.services as { service: { name: string } }[]).map((s) => s.service.name);
    for (const n of names.slice(1)) expect((await t.api('DELETE', `/api/v1/services/${n}`)).status).toBe(200);
    const last = names[0] as string;
    const refused = await t.api('DELETE', `/api/v1/services/${last}`);
    expect(refused.status).toBe(409);
    expect(refused.json.error?.code).toBe('would_drop_all_routes');
    expect(t.gh.registry.get(last)).toBeDefined();
    const rb = await t.api('POST', '/api/v1/snapshots/0/rollback', {});
    expect(rb.status).toBe(409);
    expect((await t.api('DELETE', `/api/v1/services/${last}?force=true&wait=true`)).status).toBe(200);
    expect((await t.get(`${last}.test`)).status).toBe(404);
    await t.api('PUT', '/api/v1/services/one?wait=true', svc('one', a.port));
  });

  it('restarts nginx with the last good config when it is killed', async () => {
    const before = t.gh.edge.getStatus().proxy;
    expect(before.running).toBe(true);
    process.kill(before.pid as number, 'SIGKILL');
    await until(() => {
      const p = t.gh.edge.getStatus().proxy;
      return p.running && p.pid !== before.pid ? p : undefined;
    });
    await until(async () => ((await backendOf('one.test').catch(() => 0)) === 'a' ? true : undefined));
    const s = await t.api('GET', '/api/v1/status');
    expect((s.json.edge as { proxy: { restarts: number } }).proxy.restarts).toBeGreaterThanOrEqual(1);
    // The exit was reported, and cleared once the restarted nginx served the last good config.
    await until(
      async () => ((await t.api('GET', '/api/v1/status')).json.in_sync === true ? true : undefined),
      5000,
    );
    // Its old workers do not linger, holding ports with an outdated config.
    expect(alive(before.pid as number)).toBe(false);
    // Later changes apply as usual.
    await t.api('PUT', '/api/v1/services/three?wait=true', svc('three', b.port));
    expect(await backendOf('three.test')).toBe('b');
  });

  it('puts back config files changed behind its back', async () => {
    const current = await readlink(join(t.dataDir, 'nginx', 'current'));
    const conf = join(current, 'nginx.conf');
    const good = await readFile(conf, 'utf8');
    await appendFile(conf, '\n# tampered\n');
    await until(async () => ((await readFile(conf, 'utf8')) === good ? true : undefined), 5000);
    expect(await backendOf('three.test')).toBe('b');
  });

  it('rotates an nginx log that grew past its size limit', async () => {
    const log = join(t.dataDir, 'nginx', 'logs', 'access.log');
    await appendFile(log, 'x'.repeat(1024 * 1024 + 1));
    await until(async () => ((await stat(`${log}.1`).catch(() => undefined))?.size ?? 0) > 1024 * 1024, 5000);
    // nginx reopened its log: new requests land in a fresh access.log.
    await until(async () => {
      await t.get('three.test', '/after-rotation');
      return (await readFile(log, 'utf8').catch(() => '')).includes('/after-rotation') ? true : undefined;
    }, 5000);
    expect((await stat(log)).size).toBeLessThan(64 * 1024);
  });

  it('keeps its state across a restart of Gatehouse', async () => {
    const version = t.gh.registry.version;
    const settings = t.gh.settings;
    await t.gh.close();
    const again = await startGatehouse(settings, createLogger('silent'));
    t.gh = again;
    expect(again.registry.version).toBe(version);
    expect(await backendOf('three.test')).toBe('b');
    expect(again.generated).toEqual({ admin: undefined, register: undefined });
  });
});
