import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revocationDigest } from '../../src/drivers/nginx/revocations.js';
import { Browser } from '../helpers/browser.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, until, type TestServer } from '../helpers/net.js';

/**
 * Revocations live in nginx's shared memory (the verified-session cache is per worker): a session
 * revoked is refused on the very next request by every worker, and an nginx killed with SIGKILL
 * comes back knowing every revocation before it takes traffic. The endpoint refuses a malformed
 * update with a message naming the field, and changes nothing.
 */

const HOST = 'wiki.rev.test';
const WORKERS = 2;
const CONNECTIONS = 24;

describe('session revocation through shared memory', () => {
  let t: TestGatehouse;
  let app: TestServer;
  const browser = () => new Browser(t.httpPort);
  const socket = () => join(t.dataDir, 'nginx', 'run', 'status.sock');

  beforeAll(async () => {
    t = await startTestGatehouse({
      base_domain: 'rev.test',
      nginx_workers: WORKERS,
      // The default (5 s): the SIGKILL test must see what nginx loads at start, not a drift check's repair.
      drift_check_interval: '5s',
    });
    app = await echoBackend('app');
    for (const [username, password] of [
      ['bob', 'bob password 1'],
      ['carol', 'carol password 1'],
      ['dave', 'dave password 1'],
    ])
      expect((await t.api('POST', '/api/v1/users', { username, password })).status).toBe(201);
    const service = {
      hosts: [HOST],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
      access: { login: {} },
    };
    expect((await t.api('PUT', '/api/v1/services/wiki?wait=true', service)).status).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
  });

  async function signIn(username: string, password: string): Promise<string> {
    return (await signInBrowser(username, password)).cookie as string;
  }

  async function signInBrowser(username: string, password: string): Promise<Browser> {
    const b = browser();
    await b.login(username, password, 'auth.rev.test');
    expect(b.cookie).toBeDefined();
    return b;
  }

  function workers(): number[] {
    const master = t.gh.edge.getStatus().proxy.pid as number;
    return readFileSync(`/proc/${master}/task/${master}/children`, 'utf8').trim().split(/\s+/).map(Number);
  }

  /** Client sockets (TCP to the proxy port) each worker holds. */
  function clientSockets(pid: number): number {
    const inodes = new Set(
      readdirSync(`/proc/${pid}/fd`)
        .map((fd) => {
          try {
            return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
          } catch {
            return undefined;
          }
        })
        .filter((i): i is string => i !== undefined),
    );
    const port = t.httpPort.toString(16).toUpperCase().padStart(4, '0');
    const lines = readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1);
    // Established (01) connections whose local port is the proxy's.
    return lines.filter((l) => {
      const f = l.trim().split(/\s+/);
      return f[1]?.endsWith(`:${port}`) && f[3] === '01' && inodes.has(f[9] as string);
    }).length;
  }

  /**
   * Keep-alive connections opened together, so that every worker accepts some (checked through
   * /proc): `send` then asks the same question over each of them.
   */
  async function connectionsOnEveryWorker(): Promise<{
    send(cookie: string): Promise<number[]>;
    close(): void;
  }> {
    for (let attempt = 0; ; attempt++) {
      const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
      const send = (cookie: string) =>
        Promise.all(
          Array.from(
            { length: CONNECTIONS },
            () =>
              new Promise<number>((resolve, reject) => {
                const req = request(
                  {
                    host: '127.0.0.1',
                    port: t.httpPort,
                    agent,
                    headers: { host: HOST, cookie: `gh_session=${cookie}`, accept: 'application/json' },
                  },
                  (res) => {
                    res.resume();
                    res.on('end', () => resolve(res.statusCode ?? 0));
                  },
                );
                req.on('error', reject);
                req.end();
              }),
          ),
        );
      await send('warm-up');
      const held = workers().map(clientSockets);
      if (held.length === WORKERS && held.every((n) => n > 0)) return { send, close: () => agent.destroy() };
      agent.destroy();
      if (attempt >= 20) throw new Error(`connections did not reach every worker: ${held.join(', ')}`);
    }
  }

  it('a session revoked is refused on the very next request by every worker', async () => {
    const conns = await connectionsOnEveryWorker();
    try {
      // Each revocation path: sign-out, an admin revoking the session, the user disabled, a new password.
      const cases: [string, string, (b: Browser) => Promise<void>][] = [
        [
          'bob',
          'bob password 1',
          async (b) => {
            // Signing out in the browser that signed in (the portal checks the form's origin).
            expect((await b.post('auth.rev.test', '/logout', {})).status).toBeLessThan(400);
          },
        ],
        [
          'carol',
          'carol password 1',
          async () => {
            const list = (await t.api('GET', '/api/v1/sessions?user=carol')).json as unknown as {
              sessions: { id: string }[];
            };
            for (const s of list.sessions)
              expect((await t.api('DELETE', `/api/v1/sessions/${s.id}`)).status).toBe(200);
          },
        ],
        [
          'dave',
          'dave password 1',
          async () => {
            expect((await t.api('PATCH', '/api/v1/users/dave', { disabled: true })).status).toBe(200);
          },
        ],
        [
          'dave',
          'dave password 1',
          async () => {
            expect((await t.api('PATCH', '/api/v1/users/dave', { password: 'dave password 2' })).status).toBe(
              200,
            );
          },
        ],
      ];
      for (const [i, [user, password, revoke]] of cases.entries()) {
        if (i === 3) await t.api('PATCH', '/api/v1/users/dave', { disabled: false });
        const b = await signInBrowser(user, password);
        const cookie = b.cookie as string;
        // Every worker has verified (and cached) the session.
        expect(new Set(await conns.send(cookie))).toEqual(new Set([200]));
        await revoke(b);
        expect(new Set(await conns.send(cookie)), `case ${i} (${user})`).toEqual(new Set([401]));
      }
    } finally {
      conns.close();
    }
  });

  it('nginx killed with SIGKILL comes back knowing every revocation', async () => {
    const cookie = await signIn('bob', 'bob password 1');
    expect((await t.get(HOST, '/', { headers: { cookie: `gh_session=${cookie}` } })).status).toBe(200);
    const list = (await t.api('GET', '/api/v1/sessions?user=bob')).json as unknown as {
      sessions: { id: string }[];
    };
    for (const s of list.sessions) await t.api('DELETE', `/api/v1/sessions/${s.id}`);
    const master = t.gh.edge.getStatus().proxy.pid as number;
    const old = workers();
    // The whole process group: workers left behind would keep the old shared memory serving.
    for (const pid of [master, ...old]) process.kill(pid, 'SIGKILL');
    await until(async () => {
      const pid = t.gh.edge.getStatus().proxy.pid;
      if (!pid || pid === master) return undefined;
      return (await t.get(HOST, '/').catch(() => undefined))?.status === 401 ? true : undefined;
    }, 20_000);
    expect((await t.get(HOST, '/', { headers: { cookie: `gh_session=${cookie}` } })).status).toBe(401);
    // A fresh session still passes (the restarted check works, it does not refuse everything).
    const fresh = await signIn('carol', 'carol password 1');
    expect((await t.get(HOST, '/', { headers: { cookie: `gh_session=${fresh}` } })).status).toBe(200);
  });

  it('refuses a malformed update naming the field, and changes nothing', async () => {
    const cookie = await signIn('carol', 'carol password 1');
    expect((await t.get(HOST, '/', { headers: { cookie: `gh_session=${cookie}` } })).status).toBe(200);
    const before = await t.get('x', '/gate-revocations', { socketPath: socket() });
    // nginx's digest is the files' (so drift checks send nothing while they agree).
    expect(before.body).toBe(await revocationDigest(join(t.dataDir, 'gate', 'state')));
    expect(before.body).toMatch(/^[1-9]\d* \d+$/);
    const sid = (
      (await t.api('GET', '/api/v1/sessions?user=carol')).json as unknown as { sessions: { id: string }[] }
    ).sessions.map((s) => s.id);
    const bad: [string, RegExp][] = [
      [`# gatehouse revocations\nr ${sid[0]} 99\nr ../x 1\n`, /line 3: id /],
      [`# gatehouse revocations\nr ${sid[0]} 99\nq abc 1\n`, /line 3: kind /],
      [`# gatehouse revocations\nr ${sid[0]} 99\nu abc 1e9\n`, /line 3: time /],
      [`# something else\nr ${sid[0]} 99\n`, /line 1: header /],
      [`# gatehouse revocations\nr ${sid[0]} 99`, /newline/],
    ];
    for (const method of ['POST', 'PUT'])
      for (const [body, message] of bad) {
        const res = await t.get('x', '/gate-revocations', { socketPath: socket(), method, body });
        expect(res.status, body).toBe(400);
        expect(res.body).toMatch(message);
      }
    // Nothing was written: the count is the same, and carol's session (named on the first valid line
    // of each refused list) still passes on every worker.
    expect((await t.get('x', '/gate-revocations', { socketPath: socket() })).body).toBe(before.body);
    for (let i = 0; i < 8; i++)
      expect((await t.get(HOST, '/', { headers: { cookie: `gh_session=${cookie}` } })).status).toBe(200);
  });

  it('a revocation file nginx was not told of reaches its memory at the next drift check', async () => {
    const cookie = await signIn('carol', 'carol password 1');
    expect((await t.get(HOST, '/', { headers: { cookie: `gh_session=${cookie}` } })).status).toBe(200);
    const sid = JSON.parse(Buffer.from(cookie.split('.')[0] as string, 'base64url').toString()) as {
      s: string;
    };
    // As if the gate's message had been lost (nginx restarting at that moment).
    await writeFile(join(t.dataDir, 'gate', 'state', 'r', sid.s), String(Date.now() + 60_000), {
      mode: 0o644,
    });
    await until(
      async () =>
        (await t.get(HOST, '/', { headers: { cookie: `gh_session=${cookie}` } })).status === 401
          ? true
          : undefined,
      12_000,
    );
  });

  it('a reload (a new guarded service) keeps every revocation', async () => {
    const cookie = await signIn('bob', 'bob password 1');
    const list = (await t.api('GET', '/api/v1/sessions?user=bob')).json as unknown as {
      sessions: { id: string }[];
    };
    for (const s of list.sessions) await t.api('DELETE', `/api/v1/sessions/${s.id}`);
    const before = t.gh.edge.getStatus().lastReload?.at;
    const service = {
      hosts: ['other.rev.test'],
      routes: [
        { upstreams: [`127.0.0.1:${app.port}`] },
        { path: '/x/', upstreams: [`127.0.0.1:${app.port}`] },
      ],
      access: { login: {} },
    };
    expect((await t.api('PUT', '/api/v1/services/other?wait=true', service)).status).toBe(201);
    expect(t.gh.edge.getStatus().lastReload?.at).not.toBe(before);
    for (const host of [HOST, 'other.rev.test'])
      for (let i = 0; i < 8; i++)
        expect((await t.get(host, '/', { headers: { cookie: `gh_session=${cookie}` } })).status).toBe(401);
    const digest = await t.get('x', '/gate-revocations', { socketPath: socket() });
    expect(digest.body).toBe(await revocationDigest(join(t.dataDir, 'gate', 'state')));
  });
});
