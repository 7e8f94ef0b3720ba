import { readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import { NginxDriver } from '../../src/drivers/nginx/driver.js';
import { serviceSchema } from '../../src/model/service.js';
import { silentLogger } from '../../src/observe/log.js';
import { freePort, http, startServer, until, type TestServer } from '../helpers/net.js';
import { nginxTestDir } from '../helpers/tmp.js';

/**
 * A backend that answers its name on a connection's first request and drops the connection at its
 * second: a kept-alive connection closed just as nginx reuses it.
 */
async function droppingBackend(name: string): Promise<TestServer & { connections: () => number }> {
  let n = 0;
  const seen = new WeakMap<object, number>();
  const s = await startServer((req, res) => {
    const k = (seen.get(req.socket) ?? 0) + 1;
    seen.set(req.socket, k);
    if (k === 1) res.end(name);
    else req.socket.destroy();
  });
  s.server.on('connection', () => n++);
  return { ...s, connections: () => n };
}

/** A backend that answers its name; `/slow` is held until the test lets it go. */
async function holdingBackend(name: string, held: (() => void)[]): Promise<TestServer> {
  return startServer((req, res) => {
    if (req.url === '/slow') held.push(() => res.end(name));
    else res.end(name);
  });
}

/**
 * The Lua balancer, in the fast lane and in a server block alike. A one-peer pool (no ngx.ctx)
 * retries a dropped kept-alive connection on a new one. least_conn: a request in flight counts
 * against its peer until its log phase releases it (the fast lane's location runs that phase's Lua
 * only for such pools); other balancing skips the count. One worker: the counts are per worker.
 */
describe('Lua balancer', () => {
  let dir: string;
  let driver: NginxDriver;
  let port: number;
  let a: TestServer;
  let b: TestServer;
  const held: (() => void)[] = [];
  const addr = (p: number) => `127.0.0.1:${p}`;
  const cfg = (lb: string, twoRoutes: boolean, upstreams = [addr(a.port), addr(b.port)], other?: string) =>
    compile({
      services: [
        ...(other
          ? [
              serviceSchema.parse({
                name: 'other',
                hosts: ['other.test'],
                routes: [{ path: '/', upstreams: [other] }],
              }),
            ]
          : []),
        serviceSchema.parse({
          name: 'svc',
          hosts: ['svc.test'],
          routes: (twoRoutes ? ['/api/', '/'] : ['/']).map((path) => ({
            path,
            strip_prefix: false,
            upstreams,
            lb,
          })),
        }),
      ],
      listeners: { http: port, https: 0 },
    });
  const backendsSeen = async (n: number) => {
    const seen: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const r = await http(port, 'svc.test', '/');
      const key = r.status === 200 ? r.body : String(r.status);
      seen[key] = (seen[key] ?? 0) + 1;
    }
    return seen;
  };
  /** Sends `/slow` and waits until a backend holds it; `done` lets it go and gives its answer. */
  const holdOne = async () => {
    const answer = http(port, 'svc.test', '/slow');
    await until(() => (held.length === 1 ? true : undefined));
    return async () => {
      held.shift()?.();
      return (await answer).body;
    };
  };
  const inFastLane = async () =>
    (await readFile(join(dir, 'nginx', 'current', 'fast-lane.tsv'), 'utf8')).includes('\nsvc.test\t');

  beforeAll(async () => {
    dir = await nginxTestDir('gh-leastconn-');
    a = await holdingBackend('a', held);
    b = await holdingBackend('b', held);
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
    for (const release of held.splice(0)) release();
    await driver?.stop();
    await a?.close();
    await b?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("fast lane: a request whose body comes late reaches its own host's pool, though another was routed meanwhile", async () => {
    await driver.apply(cfg('round_robin', false, [addr(a.port)], addr(b.port)));
    // The POST is routed at its headers; nginx reads its body before it picks a peer.
    const sock = connect(port, '127.0.0.1');
    let answer = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (answer += d));
    await new Promise((r) => sock.once('connect', r));
    sock.write('POST / HTTP/1.1\r\nHost: svc.test\r\nContent-Length: 4\r\nConnection: close\r\n\r\nab');
    await new Promise((r) => setTimeout(r, 200));
    expect((await http(port, 'other.test', '/')).body).toBe('b');
    // Not end(): a half-closed client is one nginx gives up on.
    sock.write('cd');
    await new Promise((r) => sock.once('close', r));
    expect(answer).toMatch(/^HTTP\/1\.1 200 [^]*\r\n\r\na$/);
  });

  for (const twoRoutes of [false, true]) {
    it(`${twoRoutes ? 'server block' : 'fast lane'}: a one-peer pool's dropped kept-alive connection is retried`, async () => {
      const c = await droppingBackend('c');
      try {
        await driver.apply(cfg('round_robin', twoRoutes, [addr(c.port)]));
        expect(await inFastLane()).toBe(!twoRoutes);
        const bodies: string[] = [];
        for (let i = 0; i < 6; i++) bodies.push((await http(port, 'svc.test', '/')).body);
        expect(bodies).toEqual(Array(6).fill('c'));
        // Every request after the first found its kept-alive connection dropped and took a new one.
        expect(c.connections()).toBe(6);
      } finally {
        await c.close();
      }
    });

    it(`${twoRoutes ? 'server block' : 'fast lane'}: a busy peer is passed over until its request ends`, async () => {
      await driver.apply(cfg('round_robin', twoRoutes));
      expect(await inFastLane()).toBe(!twoRoutes);
      // round_robin does not count: with one request held, the others still take turns.
      let done = await holdOne();
      expect(await backendsSeen(4)).toEqual({ a: 2, b: 2 });
      await done();
      // The balancing changes in the table alone.
      expect((await driver.apply(cfg('least_conn', twoRoutes))).mode).toBe('dynamic');
      done = await holdOne();
      const others = await backendsSeen(4);
      const busy = await done();
      expect(others).toEqual({ [busy === 'a' ? 'b' : 'a']: 4 });
      // Released at the end of the held request (and of each of the others): they take turns again.
      expect(await backendsSeen(4)).toEqual({ a: 2, b: 2 });
      done = await holdOne();
      const again = await backendsSeen(3);
      const busyAgain = await done();
      expect(again).toEqual({ [busyAgain === 'a' ? 'b' : 'a']: 3 });
    });
  }
});
