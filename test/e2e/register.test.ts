import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authServer } from '../helpers/auth-server.js';
import { ADMIN_TOKEN, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, json, type TestServer } from '../helpers/net.js';

/** A backend address of its own on loopback, so the `full` template's fixed ports are free. */
const BACKEND_IP = '127.0.0.42';

describe('self-registration API', () => {
  let t: TestGatehouse;
  const servers: TestServer[] = [];
  let simple: TestServer;
  let auth: Awaited<ReturnType<typeof authServer>>;

  beforeAll(async () => {
    t = await startTestGatehouse({ register_allow: '127.0.0.0/8' });
    simple = await echoBackend('simple');
    servers.push(simple);
    // The `full` template's containers: auth on :3000, API/WebSocket on :18789, UI on :8888.
    auth = await authServer(3000, BACKEND_IP);
    servers.push(auth);
    servers.push(await echoBackend('gateway', 18789, BACKEND_IP));
    servers.push(await echoBackend('ui', 8888, BACKEND_IP));
  });
  afterAll(async () => {
    await t?.close();
    for (const s of servers) await s.close();
  });

  it('answers /health without a token', async () => {
    const r = await json(t.registerPort, 'GET', '/health');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ status: 'ok' });
  });

  it('refuses a missing or wrong token with 401', async () => {
    const body = { subdomain: 'x', backend_ip: '10.0.0.1', backend_port: 80 };
    expect((await json(t.registerPort, 'POST', '/register', body)).status).toBe(401);
    const wrong = await json(t.registerPort, 'POST', '/register', body, {
      authorization: `Bearer ${ADMIN_TOKEN}`,
    });
    expect(wrong.status).toBe(401);
    expect(wrong.json.error?.code).toBe('unauthorized');
  });

  it('simple: proxies <subdomain>.<base domain> to the backend, idempotently', async () => {
    const body = { subdomain: 's42-gw', backend_ip: '127.0.0.1', backend_port: simple.port, type: 'simple' };
    const first = await t.reg('POST', '/register', body);
    expect(first.status, JSON.stringify(first.json)).toBe(201);
    expect(first.json).toMatchObject({ subdomain: 's42-gw', hosts: ['s42-gw.gw.test'] });
    const again = await t.reg('POST', '/register', body);
    expect(again.status).toBe(200);
    expect(again.json.version).toBe(first.json.version);
    await t.gh.edge.waitFor(Number(again.json.version));
    const r = await t.get('s42-gw.gw.test', '/hello');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ backend: 'simple', url: '/hello' });
  });

  it('full: public /auth/, guarded /api/, /ws and /, with the gateway token copied', async () => {
    const r = await t.reg('POST', '/register', { subdomain: 's42', backend_ip: BACKEND_IP, type: 'full' });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    await t.gh.edge.waitFor(Number(r.json.version));
    const host = 's42.gw.test';
    // /auth/* is public and goes to the auth container itself, never with a forged gateway token.
    const login = await t.get(host, '/auth/login', {
      headers: { 'x-test-auth': 'ok', 'x-gateway-token': 'forged' },
    });
    expect(login.status).toBe(200);
    expect(auth.calls.at(-1)).toMatchObject({ url: '/auth/login' });
    expect(auth.calls.at(-1)?.headers['x-gateway-token']).toBeUndefined();
    // Without a session: 401 from the auth container, passed on.
    expect((await t.get(host, '/')).status).toBe(401);
    expect((await t.get(host, '/api/x')).status).toBe(401);
    // With one: each path reaches its container, carrying the gateway token, never the client's.
    const hdrs = { 'x-test-auth': 'ok', 'x-gateway-token': 'forged' };
    for (const [path, name] of [
      ['/', 'ui'],
      ['/dashboard', 'ui'],
      ['/api/chat', 'gateway'],
      ['/ws', 'gateway'],
    ]) {
      const res = await t.get(host, path as string, { headers: hdrs });
      expect(res.status, path).toBe(200);
      const seen = JSON.parse(res.body) as { backend: string; headers: Record<string, string> };
      expect(seen.backend, path).toBe(name);
      expect(seen.headers['x-gateway-token'], path).toBe('gw-token-42');
    }
    expect((await t.get(host, '/api/x', { headers: { 'x-test-auth': 'deny' } })).status).toBe(403);
  });

  it('lists registrations and deregisters them', async () => {
    const routes = await t.reg('GET', '/routes');
    expect(routes.status).toBe(200);
    const list = routes.json as unknown as { subdomain: string; type: string }[];
    expect(list.map((x) => x.subdomain).sort()).toEqual(['s42', 's42-gw']);
    expect(list.find((x) => x.subdomain === 's42')?.type).toBe('full');

    const d = await t.reg('POST', '/deregister', { subdomain: 's42-gw' });
    expect(d.status).toBe(200);
    await t.gh.edge.waitFor(Number(d.json.version));
    expect((await t.get('s42-gw.gw.test')).status).toBe(404);
    expect((await t.reg('POST', '/deregister', { subdomain: 's42-gw' })).status).toBe(404);
  });

  it('never lets registration touch a service another source owns', async () => {
    await t.api('PUT', '/api/v1/services/ops?wait=true', {
      hosts: ['ops.test'],
      routes: [{ upstreams: [`127.0.0.1:${simple.port}`] }],
    });
    const r = await t.reg('POST', '/register', {
      subdomain: 'ops',
      backend_ip: '127.0.0.1',
      backend_port: 1,
    });
    expect(r.status).toBe(409);
    expect((await t.reg('POST', '/deregister', { subdomain: 'ops' })).status).toBe(404);
    expect(t.gh.registry.get('ops')?.service.hosts).toEqual(['ops.test']);
  });
});

describe('registration errors', () => {
  let t: TestGatehouse;
  beforeAll(async () => {
    t = await startTestGatehouse({ register_allow: '127.0.0.0/8' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("name the registration's own field, with a message saying what would do", async () => {
    const reg = async (body: Record<string, unknown>) => {
      const r = await t.reg('POST', '/register', { subdomain: 'x', backend_ip: '127.0.0.1', ...body });
      return {
        status: r.status,
        error: r.json.error as { code: string; message: string; issues: unknown[] },
      };
    };
    // Gatehouse's own API port is a bad backend_port (400), not a subdomain conflict (409).
    const own = await reg({ backend_port: t.apiPort });
    expect(own.status).toBe(400);
    expect(own.error.code).toBe('invalid');
    expect(own.error.message).toBe(
      `body.backend_port: ${t.apiPort} is Gatehouse's own API port on this machine: give the port your backend listens on`,
    );
    expect(own.error.issues).toEqual([{ field: 'body.backend_port', message: expect.any(String) }]);
    const proxy = await reg({ backend_port: t.httpPort });
    expect(proxy.error.message).toContain(
      'body.backend_port: ' + String(t.httpPort) + " is Gatehouse's own HTTP port",
    );
    // An unknown template: the field as every other error names it, and the templates there are.
    const type = await reg({ backend_port: 9, type: 'nope' });
    expect(type.status).toBe(400);
    expect(type.error.issues).toEqual([{ field: 'body.type', message: expect.any(String) }]);
    expect(type.error.message).toMatch(
      /^body\.type: no registration template named nope; the templates are: full, simple /,
    );
    const noPort = await reg({});
    expect(noPort.error.issues).toEqual([{ field: 'body.backend_port', message: expect.any(String) }]);
    // A host another source's service holds is the subdomain's conflict.
    await t.api('PUT', '/api/v1/services/held?wait=true', {
      hosts: ['held.gw.test'],
      routes: [{ upstreams: ['127.0.0.1:9'] }],
    });
    const held = await reg({ subdomain: 'held', backend_port: 9 });
    expect(held.status).toBe(409);
    expect(held.error.issues).toEqual([{ field: 'body.subdomain', message: expect.any(String) }]);
    expect(t.gh.registry.version).toBe(1);
  });

  it('says how to set the base domain a registration needs', async () => {
    const bare = await startTestGatehouse({ register_allow: '127.0.0.0/8', base_domain: undefined });
    try {
      const r = await bare.reg('POST', '/register', {
        subdomain: 'x',
        backend_ip: '127.0.0.1',
        backend_port: 9,
      });
      expect(r.status).toBe(503);
      expect(r.json.error?.code).toBe('base_domain_unset');
      expect(r.json.error?.message).toContain('start Gatehouse with --base-domain example.com');
    } finally {
      await bare.close();
    }
  });
});

describe('registration source allowlist', () => {
  it('refuses sources outside GATEHOUSE_REGISTER_ALLOW with 403', async () => {
    const t = await startTestGatehouse({ register_allow: '10.0.0.0/8' });
    try {
      const health = await t.reg('GET', '/health');
      expect(health.status).toBe(403);
      const r = await t.reg('POST', '/register', {
        subdomain: 'x',
        backend_ip: '10.0.0.1',
        backend_port: 80,
      });
      expect(r.status).toBe(403);
      expect(r.json.error?.code).toBe('forbidden_source');
    } finally {
      await t.close();
    }
  });
});
