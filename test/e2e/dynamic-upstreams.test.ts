import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import { NginxDriver } from '../../src/drivers/nginx/driver.js';
import { serviceSchema } from '../../src/model/service.js';
import { silentLogger } from '../../src/observe/log.js';
import { freePort, http, startServer, until, type TestServer } from '../helpers/net.js';
import { nginxTestDir } from '../helpers/tmp.js';

/** A backend that answers its name and counts the TCP connections it accepted. */
async function countingBackend(name: string): Promise<TestServer & { connections: () => number }> {
  let n = 0;
  const s = await startServer((_req, res) => res.end(name));
  s.server.on('connection', () => n++);
  return { ...s, connections: () => n };
}

/** A backend that accepts each connection and closes it at once: nginx sees a failed attempt. */
async function breakingBackend(): Promise<{
  port: number;
  connections: () => number;
  close: () => Promise<void>;
}> {
  let n = 0;
  const server: Server = createServer((sock) => {
    n++;
    sock.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { port, connections: () => n, close: () => new Promise((r) => server.close(() => r())) };
}

function workerPids(master: number): number[] {
  return readFileSync(`/proc/${master}/task/${master}/children`, 'utf8')
    .trim()
    .split(/\s+/)
    .map(Number)
    .sort();
}

interface Svc {
  upstreams: string[];
  lb?: string;
  suspended?: boolean;
  /** Two routes ("/" and "/api/"): a server block, not the fast lane. */
  twoRoutes?: boolean;
  offline?: { title?: string; message?: string };
}

/**
 * HTTP pools in nginx's shared memory: servers, balancing, down servers and suspension change
 * without a reload, for server-block sites and fast-lane hosts alike; retries and passive health
 * through the Lua balancer.
 */
describe('dynamic upstreams', () => {
  let dir: string;
  let driver: NginxDriver;
  let port: number;
  let a: Awaited<ReturnType<typeof countingBackend>>;
  let b: Awaited<ReturnType<typeof countingBackend>>;
  let breaker: Awaited<ReturnType<typeof breakingBackend>>;
  const addr = (p: number) => `127.0.0.1:${p}`;
  const socket = () => join(dir, 'nginx', 'run', 'status.sock');
  /** Always with a second two-route service, `other` (unless given): its server block stays. */
  const cfg = (given: Record<string, Svc>) => {
    const services: Record<string, Svc> = { other: { upstreams: [addr(b.port)], twoRoutes: true }, ...given };
    return compile({
      services: Object.entries(services).map(([name, s]) =>
        serviceSchema.parse({
          name,
          hosts: [`${name}.test`],
          ...(s.suspended ? { suspended: true } : {}),
          ...(s.offline ? { offline_page: s.offline } : {}),
          routes: (s.twoRoutes ? ['/api/', '/'] : ['/']).map((path) => ({
            path,
            strip_prefix: false,
            upstreams: s.upstreams,
            ...(s.lb ? { lb: s.lb } : {}),
          })),
        }),
      ),
      listeners: { http: port, https: 0 },
    });
  };
  const backendsSeen = async (host: string, n: number, path = '/') => {
    const seen: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const r = await http(port, host, path);
      const key = r.status === 200 ? r.body : String(r.status);
      seen[key] = (seen[key] ?? 0) + 1;
    }
    return seen;
  };

  beforeAll(async () => {
    dir = await nginxTestDir('gh-dynup-');
    a = await countingBackend('a');
    b = await countingBackend('b');
    breaker = await breakingBackend();
    port = await freePort();
    driver = new NginxDriver({
      bin: 'nginx',
      prefix: join(dir, 'nginx'),
      modulesDir: '/usr/lib/nginx/modules',
      workers: 2,
      log: silentLogger(),
    });
    await driver.init();
    expect((await driver.apply(cfg({ svc: { upstreams: [addr(a.port)], twoRoutes: true } }))).mode).toBe(
      'reload',
    );
  });
  afterAll(async () => {
    await driver?.stop();
    await a?.close();
    await b?.close();
    await breaker?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("changes a two-route service's upstreams, balancing and suspension with no reload and no failed request", async () => {
    const master = driver.process.pid as number;
    const workers = workerPids(master);
    let running = true;
    const failures: string[] = [];
    let sent = 0;
    const loop = (async () => {
      while (running) {
        for (const path of ['/', '/api/x']) {
          const r = await http(port, 'svc.test', path).catch((e: unknown) => ({
            status: 0,
            body: String(e),
          }));
          sent++;
          if (r.status !== 200 || !['a', 'b'].includes(r.body))
            failures.push(`${path} ${r.status} ${r.body}`);
        }
      }
    })();
    const modes: string[] = [];
    const step = async (s: Svc, other: Record<string, Svc> = {}) =>
      modes.push((await driver.apply(cfg({ svc: { twoRoutes: true, ...s }, ...other }))).mode);
    await step({ upstreams: [addr(a.port), addr(b.port)] });
    expect(Object.keys(await backendsSeen('svc.test', 10)).sort()).toEqual(['a', 'b']);
    await step({ upstreams: [addr(b.port)] });
    expect(await backendsSeen('svc.test', 6, '/api/x')).toEqual({ b: 6 });
    await step({ upstreams: [addr(b.port), addr(a.port)], lb: 'first' });
    expect(await backendsSeen('svc.test', 6)).toEqual({ b: 6 });
    await step({ upstreams: [addr(b.port), addr(a.port)], lb: 'least_conn' });
    // Another service suspended and resumed: its pool only.
    await step({ upstreams: [addr(a.port)] }, { other: { upstreams: [addr(b.port)], twoRoutes: true } });
    await step(
      { upstreams: [addr(a.port)] },
      { other: { upstreams: [addr(b.port)], twoRoutes: true, suspended: true } },
    );
    expect((await http(port, 'other.test', '/api/')).status).toBe(503);
    await step({ upstreams: [addr(a.port)] }, { other: { upstreams: [addr(b.port)], twoRoutes: true } });
    expect((await http(port, 'other.test', '/api/')).body).toBe('b');
    await new Promise((r) => setTimeout(r, 200));
    running = false;
    await loop;
    expect(modes).toEqual(Array(7).fill('dynamic'));
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(20);
    // No reload: the same master and workers.
    expect(driver.process.pid).toBe(master);
    expect(workerPids(master)).toEqual(workers);
    const v = await driver.fastLaneVersions();
    expect(v.memory).toBe(v.file);
  });

  it('moves traffic off a server active health checks mark down, and back, without a reload', async () => {
    const config = cfg({ svc: { upstreams: [addr(a.port), addr(b.port)], twoRoutes: true } });
    expect((await driver.apply(config)).mode).toBe('dynamic');
    const master = driver.process.pid as number;
    const workers = workerPids(master);
    const down = new Set([`svc-r0 ${addr(b.port)}`]);
    expect((await driver.apply(config, down)).mode).toBe('dynamic');
    expect(await backendsSeen('svc.test', 10)).toEqual({ a: 10 });
    expect((await driver.apply(config, new Set())).mode).toBe('dynamic');
    expect(Object.keys(await backendsSeen('svc.test', 10)).sort()).toEqual(['a', 'b']);
    // Every server down: the offline page.
    const all = new Set([`svc-r0 ${addr(a.port)}`, `svc-r0 ${addr(b.port)}`]);
    expect((await driver.apply(config, all)).mode).toBe('dynamic');
    const off = await http(port, 'svc.test', '/');
    expect(off.status).toBe(503);
    expect(off.body).toContain('svc is offline');
    expect(driver.process.pid).toBe(master);
    expect(workerPids(master)).toEqual(workers);
  });

  it("changes a server-block site's offline page without a reload", async () => {
    const dead = await freePort();
    const svc = (message: string): Svc => ({
      upstreams: [addr(dead)],
      twoRoutes: true,
      offline: { title: 'Svc <1>', message },
    });
    expect((await driver.apply(cfg({ svc: svc('Back at noon') }))).mode).toBe('dynamic');
    const master = driver.process.pid as number;
    const workers = workerPids(master);
    const first = await http(port, 'svc.test', '/api/');
    expect(first.status).toBe(503);
    expect(first.body).toContain('<h1>Svc &lt;1&gt; is offline</h1><p>Back at noon</p>');
    expect((await driver.apply(cfg({ svc: svc('Back at one') }))).mode).toBe('dynamic');
    expect((await http(port, 'svc.test', '/')).body).toContain('<p>Back at one</p>');
    // The other site, unchanged, still answers.
    expect((await http(port, 'other.test', '/')).status).toBe(200);
    expect(workerPids(master)).toEqual(workers);
  });

  it('spreads requests over two backends (round robin) and reuses connections (keepalive)', async () => {
    expect(
      (await driver.apply(cfg({ svc: { upstreams: [addr(a.port), addr(b.port)], twoRoutes: true } }))).mode,
    ).toBe('dynamic');
    const before = a.connections() + b.connections();
    const seen = await backendsSeen('svc.test', 100, '/api/x');
    expect(seen.a).toBeGreaterThanOrEqual(40);
    expect(seen.b).toBeGreaterThanOrEqual(40);
    // Two workers, each with its own idle connections per peer: a few, not one per request.
    expect(a.connections() + b.connections() - before).toBeLessThanOrEqual(8);
  });

  it('ip_hash keeps a client on one backend; least_conn and first balance as named', async () => {
    const two = [addr(a.port), addr(b.port)];
    expect((await driver.apply(cfg({ svc: { upstreams: two, twoRoutes: true, lb: 'ip_hash' } }))).mode).toBe(
      'dynamic',
    );
    expect(Object.values(await backendsSeen('svc.test', 20))).toEqual([20]);
    expect(
      (await driver.apply(cfg({ svc: { upstreams: two, twoRoutes: true, lb: 'least_conn' } }))).mode,
    ).toBe('dynamic');
    // One request at a time: every backend is as idle as the other, so they take turns.
    expect(Object.keys(await backendsSeen('svc.test', 20)).sort()).toEqual(['a', 'b']);
    expect((await driver.apply(cfg({ svc: { upstreams: two, twoRoutes: true, lb: 'first' } }))).mode).toBe(
      'dynamic',
    );
    expect(await backendsSeen('svc.test', 10)).toEqual({ a: 10 });
  });

  it('retries a failed attempt on the next peer: the client sees 200', async () => {
    const dead = await freePort();
    expect(
      (await driver.apply(cfg({ svc: { upstreams: [addr(dead), addr(a.port)], twoRoutes: true } }))).mode,
    ).toBe('dynamic');
    expect(await backendsSeen('svc.test', 10)).toEqual({ a: 10 });
  });

  it('skips a peer on every worker after 3 failed attempts (passive health in shared memory)', async () => {
    expect(
      (await driver.apply(cfg({ svc: { upstreams: [addr(breaker.port), addr(b.port)], twoRoutes: true } })))
        .mode,
    ).toBe('dynamic');
    const start = breaker.connections();
    // New connections each: both workers serve some of these.
    expect(await backendsSeen('svc.test', 40)).toEqual({ b: 40 });
    // One worker counting alone would let each worker try it 3 times.
    expect(breaker.connections() - start).toBe(3);
  });

  it('refuses a malformed pool line with 400 naming the line and field, routing unchanged', async () => {
    const version = (await driver.fastLaneVersions()).memory;
    for (const [line, field] of [
      [`@svc-r0\thttp\trandom\t${addr(a.port)}\tT\t`, 'line 2: lb'],
      [`@svc-r0\thttp\tfirst\t${addr(a.port)};x\tT\t`, 'line 2: peers'],
      [`@svc r0\thttp\tfirst\t${addr(a.port)}\tT\t`, 'line 2: pool id'],
      [`@svc-r0\tftp\tfirst\t${addr(a.port)}\tT\t`, 'line 2: scheme'],
      [`@svc-r0\thttp\tfirst\t${addr(a.port)}\t<b>T</b>\t`, 'line 2: title'],
      [`@svc-r0\thttp\tfirst\t${addr(a.port)}\tT\t$x`, 'line 2: message'],
      [`@svc-r0\thttp\tfirst\t${addr(a.port)}`, 'line 2: pool'],
      ['x.test\thttp\t@nope\tX\t', 'line 2: address'],
    ]) {
      const res = await http(0, 'localhost', '/fast-lane', {
        socketPath: socket(),
        method: 'PUT',
        body: `# gatehouse fast lane abc\n${line}\n`,
      });
      expect(res.status, line).toBe(400);
      expect(res.body, line).toContain(field);
    }
    expect((await driver.fastLaneVersions()).memory).toBe(version);
    expect((await http(port, 'svc.test', '/')).body).toBe('b');
  });

  it('comes back with the pools after nginx is killed', async () => {
    expect((await driver.apply(cfg({ svc: { upstreams: [addr(a.port)], twoRoutes: true } }))).mode).toBe(
      'dynamic',
    );
    const master = driver.process.pid as number;
    process.kill(master, 'SIGKILL');
    await until(async () => {
      const pid = driver.process.pid;
      if (!pid || pid === master || !driver.process.running) return undefined;
      return (await http(port, 'svc.test', '/api/').catch(() => undefined))?.status === 200
        ? true
        : undefined;
    }, 15_000);
    expect(await backendsSeen('svc.test', 4, '/api/')).toEqual({ a: 4 });
  });
});
