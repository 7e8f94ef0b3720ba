import { readdirSync, readFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, freePort, startServer, until, type TestServer } from '../helpers/net.js';

/** Open connections (WebSockets, long-polls) survive reloads; TCP routes come and go with them. */
describe('connections across config changes', () => {
  let t: TestGatehouse;
  let backend: TestServer;
  let wss: WebSocketServer;

  beforeAll(async () => {
    t = await startTestGatehouse();
    backend = await startServer((req, res) => {
      // A long-poll: answers after a while.
      if (req.url?.startsWith('/poll')) {
        setTimeout(
          () => res.end('late answer'),
          Number(new URL(req.url, 'http://x').searchParams.get('ms') ?? 2000),
        );
        return;
      }
      res.end('ok');
    });
    wss = new WebSocketServer({ server: backend.server });
    wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo:${String(m)}`)));
    await t.api('PUT', '/api/v1/services/ws-fast?wait=true', {
      hosts: ['ws-fast.test'],
      routes: [{ upstreams: [`127.0.0.1:${backend.port}`] }],
    });
    await t.api('PUT', '/api/v1/services/ws-full?wait=true', {
      hosts: ['ws-full.test'],
      routes: [
        {
          path: '/',
          upstreams: [`127.0.0.1:${backend.port}`],
          headers: { response: { set: { 'X-Lane': 'full' } } },
        },
      ],
    });
  });
  afterAll(async () => {
    await t?.close();
    wss?.close();
    await backend?.close();
  });

  const open = (host: string) =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${t.httpPort}/socket`, { headers: { host } });
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    });
  const roundTrip = (ws: WebSocket, msg: string) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no echo')), 5000);
      ws.once('message', (m) => {
        clearTimeout(timer);
        resolve(String(m));
      });
      ws.send(msg);
    });

  it('keeps WebSockets open across ten config changes', async () => {
    const sockets = [await open('ws-fast.test'), await open('ws-full.test')];
    const closed: string[] = [];
    sockets.forEach((ws, i) => ws.on('close', () => closed.push(String(i))));
    const generations = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const r = await t.api('PUT', `/api/v1/services/filler-${i}?wait=true`, {
        hosts: [`filler-${i}.test`],
        routes: [{ upstreams: [`127.0.0.1:${backend.port}`] }],
      });
      expect(r.status).toBe(201);
      generations.add(String((r.json.applied as { generation: string }).generation));
      for (const ws of sockets) expect(await roundTrip(ws, `m${i}`)).toBe(`echo:m${i}`);
    }
    expect(generations.size).toBe(10);
    expect(closed).toEqual([]);
    for (const ws of sockets) ws.close();
  });

  it('finishes a long-poll that was in flight during a reload', async () => {
    const poll = t.get('ws-full.test', '/poll?ms=1500');
    await new Promise((r) => setTimeout(r, 200));
    await t.api('PUT', '/api/v1/services/filler-poll?wait=true', {
      hosts: ['filler-poll.test'],
      routes: [{ upstreams: [`127.0.0.1:${backend.port}`] }],
    });
    const r = await poll;
    expect(r.status).toBe(200);
    expect(r.body).toBe('late answer');
  });
});

describe('TCP routes', () => {
  let t: TestGatehouse;
  let echo: Server;
  let echoPort: number;
  let web: TestServer;

  beforeAll(async () => {
    t = await startTestGatehouse();
    web = await echoBackend('web');
    echo = createServer((sock) => sock.on('data', (d) => sock.write(`tcp:${String(d)}`)));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    echoPort = (echo.address() as { port: number }).port;
  });
  afterAll(async () => {
    await t?.close();
    echo?.close();
    await web?.close();
  });

  const talk = (port: number, msg: string) =>
    new Promise<string>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => s.write(msg));
      s.once('data', (d) => {
        resolve(String(d));
        s.destroy();
      });
      s.once('error', reject);
      s.setTimeout(5000, () => s.destroy(new Error('timeout')));
    });

  it('adds and removes a TCP route with a reload', async () => {
    const port = await freePort();
    const r = await t.api('PUT', '/api/v1/services/mqtt?wait=true', {
      tcp: [{ port, upstreams: [`127.0.0.1:${echoPort}`] }],
    });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    expect(await talk(port, 'hello')).toBe('tcp:hello');
    await t.api('PUT', '/api/v1/services/keep?wait=true', {
      hosts: ['keep.test'],
      routes: [{ upstreams: [`127.0.0.1:${web.port}`] }],
    });
    const d = await t.api('DELETE', '/api/v1/services/mqtt?wait=true');
    expect(d.status).toBe(200);
    await until(
      async () =>
        talk(port, 'x').then(
          () => undefined,
          () => true,
        ),
      5000,
    );
  });

  it('refuses a TCP route on a port another program holds, changing nothing', async () => {
    // nginx -t does not bind ports: without this check the reload would fail and block later changes.
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(0, '0.0.0.0', r));
    const taken = (squatter.address() as { port: number }).port;
    const before = await t.api('GET', '/api/v1/status');
    const r = await t.api('PUT', '/api/v1/services/clash?wait=true', {
      tcp: [{ port: taken, upstreams: [`127.0.0.1:${echoPort}`] }],
    });
    expect(r.status).toBe(409);
    expect(r.json.error?.message).toBe(
      `tcp.0.port: port ${taken} is in use by another program on this machine`,
    );
    const after = await t.api('GET', '/api/v1/status');
    expect(after.json.version).toBe(before.json.version);
    expect(after.json.in_sync).toBe(true);
    expect((await t.get('keep.test')).status).toBe(200);
    squatter.close();
  });
});

describe('old workers after a reload', () => {
  let t: TestGatehouse;
  let backend: TestServer;
  let wss: WebSocketServer;

  beforeAll(async () => {
    t = await startTestGatehouse({ nginx_worker_shutdown_timeout: '2s' });
    backend = await startServer((_req, res) => res.end('ok'));
    wss = new WebSocketServer({ server: backend.server });
    await t.api('PUT', '/api/v1/services/ws?wait=true', {
      hosts: ['ws.test'],
      routes: [{ upstreams: [`127.0.0.1:${backend.port}`] }],
    });
  });
  afterAll(async () => {
    await t?.close();
    wss?.close();
    await backend?.close();
  });

  /** nginx's workers (the master's children), and how many of them are old ones shutting down. */
  const workers = () => {
    const master = String(t.gh.edge.getStatus().proxy.pid);
    const all = readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p));
    const mine = all.flatMap((pid) => {
      try {
        const ppid = /PPid:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
        return ppid === master ? [readFileSync(`/proc/${pid}/cmdline`, 'utf8')] : [];
      } catch {
        return [];
      }
    });
    return { count: mine.length, shuttingDown: mine.filter((c) => c.includes('shutting down')).length };
  };

  it('closes what an old worker still holds at worker_shutdown_timeout, so none pile up', async () => {
    const before = workers();
    const ws = new WebSocket(`ws://127.0.0.1:${t.httpPort}/socket`, { headers: { host: 'ws.test' } });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const closed = new Promise<number>((resolve) => ws.once('close', () => resolve(Date.now())));

    // A service with its own server block (a path route): a structural change, so nginx reloads.
    const r = await t.api('PUT', '/api/v1/services/other?wait=true', {
      hosts: ['other.test'],
      routes: [{ path: '/api', upstreams: [`127.0.0.1:${backend.port}`] }],
    });
    expect(r.status).toBe(201);
    const reloadedAt = Date.now();
    // The old worker lives on while it holds the WebSocket ...
    await until(async () => workers().shuttingDown === 1 || undefined, 1000);
    // ... until the deadline (2 s here; 5 min by default), when it closes it and exits.
    const at = await closed;
    expect(at - reloadedAt).toBeGreaterThan(1000);
    expect(at - reloadedAt).toBeLessThan(6000);
    await until(async () => workers().count === before.count || undefined, 5000);
    expect(workers().shuttingDown).toBe(0);

    const status = await t.api('GET', '/api/v1/status');
    const lastReload = (status.json.edge as { lastReload?: { at: string; reason: string } }).lastReload;
    expect(lastReload?.reason).toBe('config');
    expect(Date.parse(lastReload?.at ?? '')).toBeGreaterThanOrEqual(reloadedAt - 2000);
  });
});
