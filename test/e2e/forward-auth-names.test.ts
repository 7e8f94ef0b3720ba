import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Status } from '../../src/api/views/index.js';
import { authServer } from '../helpers/auth-server.js';
import { startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, freePort, until, type Res, type TestServer } from '../helpers/net.js';
import { BIN, cleanEnv } from '../helpers/replicas.js';

type Auth = Awaited<ReturnType<typeof authServer>>;

/**
 * A forward-auth URL that names its host (`http://auth.names.test:PORT/auth/verify`, as compose
 * files name Authelia), through a real Gatehouse, nginx and dnsmasq (upstream_resolver points at it;
 * answers with TTL 1 s): the auth server reached by name decides; the record removed → 503 without
 * passing anything; restored → decides again; moved to another address → that server decides.
 */
describe('forward-auth URLs by name', () => {
  let dns: Dnsmasq;
  let t: TestGatehouse;
  let app: TestServer;
  let a: Auth;
  let b: Auth;
  let port: number;

  const get = (auth: string, path = '/'): Promise<Res> =>
    t.get('guarded.test', path, { headers: { 'x-test-auth': auth } });
  /**
   * The first of 5 answers in a row with status `want`. An address change is a graceful nginx
   * reload: for a moment after it, old workers may still take a connection with the old config.
   */
  const answers = (auth: string, want: number): Promise<Res> =>
    until(async () => {
      const r = await get(auth);
      if (r.status !== want) return undefined;
      for (let i = 0; i < 4; i++) if ((await get(auth)).status !== want) return undefined;
      return r;
    }, 8000);
  const status = async () => (await t.api('GET', '/api/v1/status')).json as unknown as Status;

  beforeAll(async () => {
    port = await freePort();
    // Two auth servers on one port at two loopback addresses: the name picks one.
    a = await authServer(port, '127.0.0.2');
    b = await authServer(port, '127.0.0.3');
    app = await echoBackend('app');
    dns = await startDnsmasq('names.test', { 'auth.names.test': ['127.0.0.2'] }, 1);
    t = await startTestGatehouse({ upstream_resolver: dns.server });
  });
  afterAll(async () => {
    await t?.close();
    await dns?.close();
    await app?.close();
    await a?.close();
    await b?.close();
  });

  it('asks the auth server the name stands for, with Host name:port, and does as it answers', async () => {
    const put = await t.api('PUT', '/api/v1/services/guarded?wait=true', {
      hosts: ['guarded.test'],
      access: {
        forward_auth: {
          url: `http://auth.names.test:${port}/auth/verify`,
          copy_headers: ['X-Gateway-Token'],
        },
      },
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
    });
    expect(put.status, JSON.stringify(put.json)).toBe(201);
    const ok = await answers('ok', 200);
    expect((JSON.parse(ok.body) as { headers: Record<string, string> }).headers['x-gateway-token']).toBe(
      'gw-token-42',
    );
    const call = a.calls.at(-1);
    expect(call?.url).toBe('/auth/verify');
    expect(call?.headers.host).toBe(`auth.names.test:${port}`);
    expect(call?.headers['x-forwarded-host']).toBe('guarded.test');
    // Each settled (5 in a row): with a 1 s TTL on a loaded machine a re-resolution can be late, and a
    // name past its kept answer is 503 (fail closed) for a moment.
    await answers('deny', 403);
    await answers('nobody', 401);
    expect(b.calls).toHaveLength(0);
    expect((await status()).edge.upstreamNames).toEqual([
      expect.objectContaining({
        name: 'auth.names.test',
        addresses: ['127.0.0.2'],
        state: 'ok',
        forwardAuth: true,
      }),
    ]);
  });

  it('a removed record: 503 (never passes, never asks for a sign-in), shown in status', async () => {
    await dns.setRecords({ 'other.names.test': ['127.0.0.9'] });
    const down = await answers('ok', 503);
    expect(down.body).toMatch(/Sign-in unavailable/);
    // Settled: status says the name is gone, and a refusing answer is not asked for either (a run
    // once saw five 503s, then one 403 from the old address while resolution settled).
    await until(
      async () => ((await status()).edge.upstreamNames?.[0]?.state === 'unresolved' ? true : undefined),
      8000,
    );
    await answers('deny', 503);
    expect(down.headers['retry-after']).toBeDefined();
    const calls = a.calls.length + b.calls.length;
    for (const auth of ['ok', 'deny', 'nobody', 'login']) {
      const r = await get(auth, '/secret');
      expect(r.status, auth).toBe(503);
      expect(r.body).not.toContain('"backend"');
      expect(r.headers.location).toBeUndefined();
    }
    // The auth server was not asked: nothing dialled the old address.
    expect(a.calls.length + b.calls.length).toBe(calls);
    const name = (await status()).edge.upstreamNames?.[0];
    expect(name).toMatchObject({
      name: 'auth.names.test',
      state: 'unresolved',
      addresses: [],
      forwardAuth: true,
    });
    expect(name?.error).toMatch(/no such name/);
    const cli = await promisify(execFile)(process.execPath, [BIN, '--data-dir', t.dataDir, 'status'], {
      env: cleanEnv(),
    });
    expect(cli.stdout).toMatch(
      /UPSTREAM NAME: +auth\.names\.test → nothing \(its routes answer 503\); .*no such name/,
    );
  });

  it('restored: the auth server decides again', async () => {
    await dns.setRecords({ 'auth.names.test': ['127.0.0.2'] });
    await answers('ok', 200);
    // The other service of the same name: a moment later at most (an old nginx worker may still
    // take a connection right after a reload; see the reload-race branch).
    expect(await until(async () => ((await get('deny')).status === 403 ? 403 : undefined), 5000, 50)).toBe(
      403,
    );
  });

  it('moved to another address: that server is asked (a graceful reload), within the TTL', async () => {
    const before = t.gh.edge.getStatus();
    const started = Date.now();
    await dns.setRecords({ 'auth.names.test': ['127.0.0.3'] });
    // Settled when 5 requests in a row reach b, and none a.
    await until(
      async () => {
        const [na, nb] = [a.calls.length, b.calls.length];
        for (let i = 0; i < 5; i++) if ((await get('ok')).status !== 200) return undefined;
        return a.calls.length === na && b.calls.length === nb + 5 ? true : undefined;
      },
      8000,
      50,
    );
    // TTL 1 s, then a graceful reload (slack for a loaded machine).
    expect(Date.now() - started).toBeLessThan(5000);
    const after = t.gh.edge.getStatus();
    expect(after.lastReload).not.toEqual(before.lastReload);
    expect(after.lastError).toBeUndefined();
    expect(after.proxy.pid).toBe(before.proxy.pid);
    expect(b.calls.at(-1)?.headers.host).toBe(`auth.names.test:${port}`);
    const calls = a.calls.length;
    for (let i = 0; i < 3; i++) expect((await get('ok')).status).toBe(200);
    expect(a.calls.length).toBe(calls);
  });
});
