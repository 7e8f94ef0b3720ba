import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import { NginxDriver } from '../../src/drivers/nginx/driver.js';
import { serviceSchema } from '../../src/model/service.js';
import { silentLogger } from '../../src/observe/log.js';
import { freePort, http, startServer, until, type TestServer } from '../helpers/net.js';
import { testDir } from '../helpers/tmp.js';

/** A backend that counts the TCP connections it accepted. */
async function countingBackend(name: string): Promise<TestServer & { connections: () => number }> {
  let n = 0;
  const s = await startServer((_req, res) => res.end(name));
  s.server.on('connection', () => n++);
  return { ...s, connections: () => n };
}

function workerPids(master: number): number[] {
  return readFileSync(`/proc/${master}/task/${master}/children`, 'utf8')
    .trim()
    .split(/\s+/)
    .map(Number)
    .sort();
}

/** The fast lane in nginx's shared memory, changed without reloads, through the real nginx. */
describe('dynamic fast lane', () => {
  let dir: string;
  let driver: NginxDriver;
  let port: number;
  let a: Awaited<ReturnType<typeof countingBackend>>;
  let b: Awaited<ReturnType<typeof countingBackend>>;
  const socket = () => join(dir, 'nginx', 'run', 'status.sock');
  const cfg = (services: [string, number][]) =>
    compile({
      services: services.map(([host, p]) =>
        serviceSchema.parse({
          name: host.split('.')[0],
          hosts: [host],
          routes: [{ upstreams: [`127.0.0.1:${p}`] }],
        }),
      ),
      listeners: { http: port, https: 0 },
    });

  beforeAll(async () => {
    dir = await testDir('gh-dynlane-');
    a = await countingBackend('a');
    b = await countingBackend('b');
    port = await freePort();
    driver = new NginxDriver({
      bin: 'nginx',
      prefix: join(dir, 'nginx'),
      modulesDir: '/usr/lib/nginx/modules',
      workers: 2,
      log: silentLogger(),
    });
    await driver.init();
    expect((await driver.apply(cfg([['one.test', a.port]]))).mode).toBe('reload');
  });
  afterAll(async () => {
    await driver?.stop();
    await a?.close();
    await b?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('adds, changes and removes a host with no reload and no failed request meanwhile', async () => {
    const master = driver.process.pid as number;
    const workers = workerPids(master);
    let running = true;
    const failures: string[] = [];
    let sent = 0;
    const loop = (async () => {
      while (running) {
        const r = await http(port, 'one.test').catch((e: unknown) => ({ status: 0, body: String(e) }));
        sent++;
        if (r.status !== 200 || r.body !== 'a') failures.push(`${r.status} ${r.body}`);
      }
    })();
    const add = await driver.apply(
      cfg([
        ['one.test', a.port],
        ['two.test', a.port],
      ]),
    );
    expect(add.mode).toBe('dynamic');
    expect((await http(port, 'two.test')).body).toBe('a');
    expect(
      (
        await driver.apply(
          cfg([
            ['one.test', a.port],
            ['two.test', b.port],
          ]),
        )
      ).mode,
    ).toBe('dynamic');
    expect((await http(port, 'two.test')).body).toBe('b');
    expect((await driver.apply(cfg([['one.test', a.port]]))).mode).toBe('dynamic');
    expect((await http(port, 'two.test')).status).toBe(404);
    await new Promise((r) => setTimeout(r, 200));
    running = false;
    await loop;
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(10);
    expect(driver.process.pid).toBe(master);
    expect(workerPids(master)).toEqual(workers);
    const v = await driver.fastLaneVersions();
    expect(v.memory).toBeDefined();
    expect(v.memory).toBe(v.file);
  });

  it('reuses connections to the backend (keepalive)', async () => {
    const before = a.connections();
    for (let i = 0; i < 100; i++) expect((await http(port, 'one.test')).status).toBe(200);
    // Two workers, each with its own pool: a few connections, not one per request.
    expect(a.connections() - before).toBeLessThanOrEqual(4);
  });

  it('refuses a malformed table with 400 naming the line and field, routing unchanged', async () => {
    const bad =
      '# gatehouse fast lane abc\none.test\thttp\t127.0.0.1:1\tOne\t\nevil.test\thttp\t127.0.0.1:80;x\tT\t\n';
    const res = await http(0, 'localhost', '/fast-lane', { socketPath: socket(), method: 'PUT', body: bad });
    expect(res.status).toBe(400);
    expect(res.body).toContain('line 3: address');
    const header = await http(0, 'localhost', '/fast-lane', {
      socketPath: socket(),
      method: 'PUT',
      body: 'x\n',
    });
    expect(header.status).toBe(400);
    expect(header.body).toContain('line 1: header');
    expect((await http(port, 'one.test')).body).toBe('a');
    const v = await driver.fastLaneVersions();
    expect(v.memory).toBe(v.file);
  });

  it('corrects a table changed behind Gatehouse', async () => {
    const other = `# gatehouse fast lane abc\none.test\thttp\t127.0.0.1:${b.port}\tOne\t\n`;
    const res = await http(0, 'localhost', '/fast-lane', {
      socketPath: socket(),
      method: 'PUT',
      body: other,
    });
    expect(res.status).toBe(200);
    expect((await http(port, 'one.test')).body).toBe('b');
    expect(await driver.correctDrift()).toEqual(['fast lane']);
    expect((await http(port, 'one.test')).body).toBe('a');
  });

  it("answers a host's offline page when its backend is down", async () => {
    const dead = await freePort();
    expect(
      (
        await driver.apply(
          cfg([
            ['one.test', a.port],
            ['dead.test', dead],
          ]),
        )
      ).mode,
    ).toBe('dynamic');
    const res = await http(port, 'dead.test');
    expect(res.status).toBe(503);
    expect(res.body).toContain('dead is offline');
    expect(res.headers['retry-after']).toBe('10');
  });

  it('comes back with the dynamic hosts after nginx is killed', async () => {
    expect(
      (
        await driver.apply(
          cfg([
            ['one.test', a.port],
            ['three.test', b.port],
          ]),
        )
      ).mode,
    ).toBe('dynamic');
    const master = driver.process.pid as number;
    process.kill(master, 'SIGKILL');
    await until(async () => {
      const pid = driver.process.pid;
      if (!pid || pid === master || !driver.process.running) return undefined;
      return (await http(port, 'three.test').catch(() => undefined))?.status === 200 ? true : undefined;
    }, 15_000);
    expect((await http(port, 'three.test')).body).toBe('b');
    expect((await http(port, 'one.test')).body).toBe('a');
    expect((await http(port, 'nobody.test')).status).toBe(404);
  });
});
