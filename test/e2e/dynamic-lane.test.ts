import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import {
  Agent,
  createServer as createHttpServer,
  request,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { compile } from '../../src/compile/compile.js';
import { NginxDriver } from '../../src/drivers/nginx/driver.js';
import { serviceSchema } from '../../src/model/service.js';
import { silentLogger } from '../../src/observe/log.js';
import { freePort, http, startServer, until, type TestServer } from '../helpers/net.js';
import { makeCa } from '../helpers/tls.js';
import { nginxTestDir } from '../helpers/tmp.js';

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

/** The nginx worker that holds the connection from 127.0.0.1:clientPort to 127.0.0.1:port. */
function workerOf(workers: number[], port: number, clientPort: number): number | undefined {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
  // /proc/net/tcp: "sl local rem st … inode": the worker's side is local :port, remote :clientPort.
  const line = readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((f) => f[1]?.endsWith(`:${hex(port)}`) && f[2]?.endsWith(`:${hex(clientPort)}`));
  const inode = line?.[9];
  if (!clientPort || !inode) return undefined;
  return workers.find((pid) =>
    readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`;
      } catch {
        return false;
      }
    }),
  );
}

/** A GET over a kept-alive connection (one per agent): status, body and the client's port. */
function keptAlive(agent: Agent, port: number, host: string) {
  return new Promise<{ status: number; body: string; clientPort: number }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent }, (res) => {
      // Read now: a kept-alive socket goes back to its agent when the response ends.
      const clientPort = res.socket.localPort ?? 0;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, clientPort }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The fast lane in nginx's shared memory, changed without reloads, through the real nginx. */
describe('dynamic fast lane', () => {
  let dir: string;
  let driver: NginxDriver;
  let port: number;
  let a: Awaited<ReturnType<typeof countingBackend>>;
  let b: Awaited<ReturnType<typeof countingBackend>>;
  const socket = () => join(dir, 'nginx', 'run', 'status.sock');
  /** Hosts and their backends' ports (an "https://" prefix: the backend speaks HTTPS). */
  const cfg = (services: [string, number | string][], offline: Record<string, string> = {}) =>
    compile({
      services: services.map(([host, p]) =>
        serviceSchema.parse({
          name: host.split('.')[0],
          hosts: [host],
          routes: [{ upstreams: [typeof p === 'number' ? `127.0.0.1:${p}` : p] }],
          ...(offline[host] ? { offline_page: { message: offline[host] } } : {}),
        }),
      ),
      listeners: { http: port, https: 0 },
    });

  beforeAll(async () => {
    dir = await nginxTestDir('gh-dynlane-');
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

  it('serves a host whose backend speaks HTTPS beside one that speaks HTTP', async () => {
    const { cert, key } = makeCa(dir).issue(['backend.test']);
    const tls = createHttpsServer({ cert, key }, (_req, res) => res.end('tls'));
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    try {
      const tlsPort = (tls.address() as AddressInfo).port;
      const hosts: [string, number | string][] = [
        ['one.test', a.port],
        ['secure.test', `https://127.0.0.1:${tlsPort}`],
      ];
      expect((await driver.apply(cfg(hosts))).mode).toBe('dynamic');
      for (let i = 0; i < 5; i++) {
        expect(await http(port, 'secure.test')).toMatchObject({ status: 200, body: 'tls' });
        expect(await http(port, 'one.test')).toMatchObject({ status: 200, body: 'a' });
      }
    } finally {
      tls.closeAllConnections();
      await new Promise<void>((resolve) => tls.close(() => resolve()));
    }
  });

  it('passes an HTTPS backend the headers an HTTP one gets (through the other routes), and logs the request once', async () => {
    const { cert, key } = makeCa(dir).issue(['backend.test']);
    const echo = (req: IncomingMessage, res: ServerResponse) => res.end(JSON.stringify(req.headers));
    const tls = createHttpsServer({ cert, key }, echo);
    const plain = createHttpServer(echo);
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    try {
      const tlsPort = (tls.address() as AddressInfo).port;
      const plainPort = (plain.address() as AddressInfo).port;
      const hosts: [string, number | string][] = [
        ['one.test', a.port],
        ['plain.test', plainPort],
        ['secure.test', `https://127.0.0.1:${tlsPort}`],
      ];
      expect((await driver.apply(cfg(hosts))).mode).toBe('dynamic');
      const headers = {
        'x-forwarded-for': '6.6.6.6',
        cookie: 'gh_session=secret; theme=dark',
        'remote-user': 'mallory',
      };
      const seen = async (host: string, path: string) => {
        const res = await http(port, host, path, { headers });
        expect(res.status).toBe(200);
        const h = JSON.parse(res.body) as Record<string, string>;
        return {
          host: h.host,
          realIp: h['x-real-ip'],
          forwardedFor: h['x-forwarded-for'],
          proto: h['x-forwarded-proto'],
          forwardedHost: h['x-forwarded-host'],
          cookie: h.cookie,
          remoteUser: h['remote-user'],
        };
      };
      const viaHttp = await seen('plain.test', '/md-once-plain');
      expect(viaHttp).toEqual({
        host: 'plain.test',
        realIp: '127.0.0.1',
        forwardedFor: '6.6.6.6, 127.0.0.1',
        proto: 'http',
        forwardedHost: 'plain.test',
        cookie: 'theme=dark',
        remoteUser: undefined,
      });
      expect(await seen('secure.test', '/md-once-secure')).toEqual({
        ...viaHttp,
        host: 'secure.test',
        forwardedHost: 'secure.test',
      });
      // One access log line per request, from the first hop (the log is flushed every second).
      const log = join(dir, 'nginx', 'logs', 'access.log');
      const lines = await until(() => {
        const text = readFileSync(log, 'utf8');
        return text.includes('/md-once-secure') ? text.split('\n') : undefined;
      }, 5000);
      expect(lines.filter((l) => l.includes('/md-once-secure'))).toHaveLength(1);
      expect(lines.filter((l) => l.includes('/md-once-secure'))[0]).toContain('127.0.0.1');
    } finally {
      tls.closeAllConnections();
      plain.closeAllConnections();
      await new Promise<void>((resolve) => tls.close(() => resolve()));
      await new Promise<void>((resolve) => plain.close(() => resolve()));
    }
  });

  it('carries a WebSocket to an HTTPS backend through the other routes', async () => {
    const { cert, key } = makeCa(dir).issue(['backend.test']);
    const tls = createHttpsServer({ cert, key });
    const wss = new WebSocketServer({ server: tls });
    wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo ${String(m)}`)));
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    try {
      const tlsPort = (tls.address() as AddressInfo).port;
      const hosts: [string, number | string][] = [
        ['one.test', a.port],
        ['secure.test', `https://127.0.0.1:${tlsPort}`],
      ];
      expect((await driver.apply(cfg(hosts))).mode).toBe('dynamic');
      const ws = await new Promise<WebSocket>((resolve, reject) => {
        const c = new WebSocket(`ws://127.0.0.1:${port}/socket`, { headers: { host: 'secure.test' } });
        c.once('open', () => resolve(c));
        c.once('error', reject);
      });
      const echoed = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no echo')), 5000);
        ws.once('message', (m) => {
          clearTimeout(timer);
          resolve(String(m));
        });
        ws.send('hello');
      });
      expect(echoed).toBe('echo hello');
      ws.close();
    } finally {
      wss.close();
      tls.closeAllConnections();
      await new Promise<void>((resolve) => tls.close(() => resolve()));
    }
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

  it('an offline text change reaches every worker at once, with no reload', async () => {
    const dead = await freePort();
    const hosts: [string, number][] = [
      ['one.test', a.port],
      ['dead.test', dead],
    ];
    expect((await driver.apply(cfg(hosts, { 'dead.test': 'Back at ten.' }))).mode).toBe('dynamic');
    const master = driver.process.pid as number;
    const workers = workerPids(master);
    expect(workers).toHaveLength(2);
    // Kept-alive connections until each worker holds one; each worker then caches the old text.
    const held = new Map<number, Agent>();
    const agents: Agent[] = [];
    try {
      // Opened many at a time: one after another, the same idle worker would accept every one.
      for (let round = 0; round < 10 && held.size < workers.length; round++) {
        const batch = Array.from({ length: 16 }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
        agents.push(...batch);
        const answers = await Promise.all(batch.map((agent) => keptAlive(agent, port, 'dead.test')));
        answers.forEach((res, i) => {
          expect(res.status).toBe(503);
          expect(res.body).toContain('Back at ten.');
          const w = workerOf(workers, port, res.clientPort);
          if (w !== undefined && !held.has(w)) held.set(w, batch[i] as Agent);
        });
      }
      expect([...held.keys()].sort()).toEqual(workers);
      for (const agent of held.values())
        expect((await keptAlive(agent, port, 'dead.test')).body).toContain('Back at ten.');
      expect((await driver.apply(cfg(hosts, { 'dead.test': 'Back at eleven.' }))).mode).toBe('dynamic');
      for (const [w, agent] of held) {
        const res = await keptAlive(agent, port, 'dead.test');
        // Still the same connection, so still the same worker.
        expect(workerOf(workers, port, res.clientPort)).toBe(w);
        expect(res.status).toBe(503);
        expect(res.body).toContain('Back at eleven.');
        expect(res.body).not.toContain('Back at ten.');
        expect(res.body).toContain('dead is offline');
      }
      expect(workerPids(master)).toEqual(workers);
    } finally {
      for (const agent of agents) agent.destroy();
    }
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
