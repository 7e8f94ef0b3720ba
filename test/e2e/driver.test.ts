import { readlink, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import type { EdgeConfig } from '../../src/compile/edge-config.js';
import { NginxDriver } from '../../src/drivers/nginx/driver.js';
import { serviceSchema } from '../../src/model/service.js';
import { silentLogger } from '../../src/observe/log.js';
import { startTestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, freePort, http, json, type TestServer } from '../helpers/net.js';
import { nginxTestDir } from '../helpers/tmp.js';

/** The nginx driver on its own, against the real binary. */
describe('nginx driver', () => {
  let dir: string;
  let driver: NginxDriver;
  let backend: TestServer;
  let port: number;
  const cfgFor = (host: string): EdgeConfig =>
    compile({
      services: [
        serviceSchema.parse({
          name: 'a',
          hosts: [host],
          routes: [{ upstreams: [`127.0.0.1:${backend.port}`] }],
        }),
      ],
      listeners: { http: port, https: 0 },
    });

  beforeAll(async () => {
    dir = await nginxTestDir('gh-driver-');
    backend = await echoBackend('a');
    port = await freePort();
    driver = new NginxDriver({
      bin: 'nginx',
      prefix: join(dir, 'nginx'),
      modulesDir: '/usr/lib/nginx/modules',
      workers: 1,
      log: silentLogger(),
    });
    await driver.init();
  });
  afterAll(async () => {
    await driver?.stop();
    await backend?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('applies a config and confirms the generation that answers', async () => {
    const res = await driver.apply(cfgFor('one.test'));
    expect(await driver.liveGeneration()).toBe(res.generation);
    expect((await http(port, 'one.test')).status).toBe(200);
  });

  it('refuses a config nginx -t rejects, leaving the running one untouched', async () => {
    const good = await readlink(join(dir, 'nginx', 'current'));
    const bad = cfgFor('two.test');
    // Two TCP routes rendering one upstream block each under the same pool name: a config only a
    // bug could produce (HTTP pools are lines of the Lua table, not blocks), and nginx refuses it.
    bad.pools.push({ id: 'tcp-r0', scheme: 'http', lb: 'round_robin', servers: ['127.0.0.1:9'] });
    bad.tcp.push(
      { port: await freePort(), service: 'tcp', pool: 'tcp-r0' },
      { port: await freePort(), service: 'tcp', pool: 'tcp-r0' },
    );
    bad.sites.push({
      hosts: ['three.test'],
      routes: [
        {
          ...(bad.sites[0]!.routes[0] as EdgeConfig['sites'][number]['routes'][number]),
          headers: { requestSet: [['X-A', 'b']], requestDelete: [], responseSet: [], responseDelete: [] },
        },
      ],
    });
    await expect(driver.apply(bad)).rejects.toMatchObject({
      code: 'nginx_rejected',
      message: expect.stringContaining('duplicate upstream'),
    });
    expect(await readlink(join(dir, 'nginx', 'current'))).toBe(good);
    expect((await http(port, 'one.test')).status).toBe(200);
    expect((await http(port, 'two.test')).status).toBe(404);
  });
});

describe('nginx driver, reload failures', () => {
  it('keeps the running config when a reload cannot bind a port, and says why', async () => {
    const dir = await nginxTestDir('gh-driver-');
    const backend = await echoBackend('a');
    const port = await freePort();
    const driver = new NginxDriver({
      bin: 'nginx',
      prefix: join(dir, 'nginx'),
      modulesDir: '/usr/lib/nginx/modules',
      workers: 1,
      log: silentLogger(),
    });
    const squatter = createServer();
    try {
      await driver.init();
      const svc = serviceSchema.parse({
        name: 'a',
        hosts: ['one.test'],
        routes: [{ upstreams: [`127.0.0.1:${backend.port}`] }],
      });
      const good = await driver.apply(compile({ services: [svc], listeners: { http: port, https: 0 } }));
      await new Promise<void>((r) => squatter.listen(0, '0.0.0.0', r));
      const taken = (squatter.address() as { port: number }).port;
      const tcp = serviceSchema.parse({
        name: 't',
        tcp: [{ port: taken, upstreams: [`127.0.0.1:${backend.port}`] }],
      });
      const bad = compile({ services: [svc, tcp], listeners: { http: port, https: 0 } });
      await expect(driver.apply(bad)).rejects.toMatchObject({
        code: 'nginx_reload_failed',
        message: expect.stringContaining('Address already in use'),
      });
      expect(await driver.liveGeneration()).toBe(good.generation);
      expect((await http(port, 'one.test')).status).toBe(200);
    } finally {
      squatter.close();
      await driver.stop();
      await backend.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('change bursts', () => {
  it('fold many concurrent registrations into a few applies without a reload, every one landing', async () => {
    const t = await startTestGatehouse();
    const backend = await echoBackend('burst');
    try {
      const before = t.gh.edge.getStatus().applies;
      const reloadBefore = t.gh.edge.getStatus().lastReload;
      const n = 60;
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          t.reg('POST', '/register', {
            subdomain: `b${i}`,
            backend_ip: '127.0.0.1',
            backend_port: backend.port,
          }),
        ),
      );
      expect(results.every((r) => r.status === 201)).toBe(true);
      await t.gh.edge.waitFor(t.gh.registry.version);
      // Simple registrations reach nginx's memory: no reload, and the burst folds into a few
      // applies (an update without reload waits as long as it took before the next one).
      const status = t.gh.edge.getStatus();
      expect(status.lastReload).toEqual(reloadBefore);
      expect(status.lastApplyMode).toBe('dynamic');
      const applies = status.applies - before;
      expect(applies).toBeGreaterThanOrEqual(1);
      // Folded: well under one apply per registration (5-8 on a quiet machine, 22 at load 8, 34 at
      // load 11 with the whole suite and other work running: each apply waits for the one before).
      expect(applies).toBeLessThanOrEqual(40);
      for (let i = 0; i < n; i++) expect((await t.get(`b${i}.gw.test`)).status).toBe(200);
    } finally {
      await t.close();
      await backend.close();
    }
  });

  it('serves the OpenAPI document', async () => {
    const t = await startTestGatehouse();
    try {
      const r = await json(t.apiPort, 'GET', '/api/v1/openapi.json');
      expect(r.status).toBe(200);
      expect(r.json.openapi).toBe('3.1.0');
      expect(Object.keys(r.json.paths as object)).toContain('/services/{name}');
      const schemas = (
        r.json.components as { schemas: Record<string, { properties?: Record<string, unknown> }> }
      ).schemas;
      expect(Object.keys(schemas.Service?.properties ?? {})).toEqual(
        expect.arrayContaining(['name', 'hosts', 'routes', 'tcp', 'access']),
      );
      expect(Object.keys(r.json.paths as object)).toEqual(
        expect.arrayContaining(['/users/{username}', '/links', '/providers', '/sessions/{id}', '/events']),
      );
      expect(Object.keys(schemas.Link?.properties ?? {})).toEqual(
        expect.arrayContaining(['service', 'ttl', 'max_ips', 'password', 'note']),
      );
      expect(Object.keys(r.json.paths as object)).toEqual(
        expect.arrayContaining(['/certificates', '/dns-providers', '/nodes/{name}', '/apply']),
      );
      expect(Object.keys(schemas.EdgeFile?.properties ?? {})).toEqual(
        expect.arrayContaining(['services', 'users', 'groups', 'templates']),
      );
      expect((await json(t.apiPort, 'GET', '/api/v1/services')).status).toBe(401);
    } finally {
      await t.close();
    }
  });
});
