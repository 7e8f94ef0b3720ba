import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../../src/gate/totp.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { freePort, json, startServer, until, type TestServer } from '../helpers/net.js';
import { openStream } from '../helpers/stream.js';

/**
 * The management API for the web UI: sign-in with an admin user (password and TOTP) instead of
 * the raw token, a cookie that needs a CSRF header for changes, and a live event stream.
 */
describe('management API: admin sign-in and the live stream', () => {
  let t: TestGatehouse;
  let app: TestServer;
  let healthy = true;
  let secret: string;
  let recovery: string[];
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    json(t.apiPort, 'POST', path, body, headers);
  const cookieOf = (r: { headers?: Record<string, unknown> }) =>
    String((r.headers?.['set-cookie'] as string[] | undefined)?.[0] ?? '').split(';')[0] ?? '';

  beforeAll(async () => {
    t = await startTestGatehouse();
    app = await startServer(
      (req, res) => {
        res.writeHead(req.url === '/health' && !healthy ? 503 : 200);
        res.end('app');
      },
      await freePort(),
    );
    await t.api('POST', '/api/v1/users', { username: 'root', password: 'root password 1', role: 'admin' });
    await t.api('POST', '/api/v1/users', { username: 'eve', password: 'eve password 1' });
    const totp = (await t.api('POST', '/api/v1/users/root/totp')).json as {
      secret: string;
      recovery_codes: string[];
    };
    secret = totp.secret;
    recovery = totp.recovery_codes;
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
  });

  it('signs an admin in with password and TOTP; others are refused', async () => {
    const noCode = await post('/api/v1/session', { username: 'root', password: 'root password 1' });
    expect(noCode.status).toBe(401);
    expect(noCode.json.error?.code).toBe('totp_required');
    const user = await post('/api/v1/session', { username: 'eve', password: 'eve password 1' });
    expect(user.status).toBe(403);
    const wrong = await post('/api/v1/session', { username: 'root', password: 'nope nope nope' });
    expect(wrong.status).toBe(401);
    const bad = await post('/api/v1/session', { username: 'root' });
    expect(bad.status).toBe(400);
    expect(bad.json.error?.message).toMatch(/^password: /);
    const ok = await post('/api/v1/session', {
      username: 'root',
      password: 'root password 1',
      totp: totpCode(secret),
    });
    expect(ok.status, JSON.stringify(ok.json)).toBe(200);
    const setCookie = String((ok.headers['set-cookie'] as string[] | undefined)?.[0]);
    expect(setCookie).toMatch(/^gh_admin=.+; Path=\/; HttpOnly; SameSite=Strict/);
  });

  it('the cookie reads; a change also needs the CSRF header; sign-out ends it', async () => {
    const ok = await post('/api/v1/session', {
      username: 'root',
      password: 'root password 1',
      totp: totpCode(secret, Date.now() + 30_000),
    });
    const cookie = cookieOf(ok as never);
    expect(cookie).toMatch(/^gh_admin=/);
    expect((await json(t.apiPort, 'GET', '/api/v1/services', undefined, { cookie })).status).toBe(200);
    const svc = { hosts: ['ui.test'], routes: [{ upstreams: [`127.0.0.1:${app.port}`] }] };
    const forged = await json(t.apiPort, 'PUT', '/api/v1/services/ui', svc, { cookie });
    expect(forged.status).toBe(403);
    expect(t.gh.registry.get('ui')).toBeUndefined();
    const made = await json(t.apiPort, 'PUT', '/api/v1/services/ui?wait=true', svc, {
      cookie,
      'x-gatehouse-csrf': '1',
    });
    expect(made.status).toBe(201);
    expect((await t.get('ui.test')).status).toBe(200);
    // The version records who made it.
    const versions = (await t.api('GET', '/api/v1/snapshots')).json as unknown as {
      snapshots: { version: number; actor: string }[];
    };
    expect(versions.snapshots.find((v) => v.version === t.gh.registry.version)?.actor).toBe('root');
    // A gate session (the portal's cookie) is not an API session.
    expect(
      (await json(t.apiPort, 'GET', '/api/v1/services', undefined, { cookie: 'gh_admin=x.y' })).status,
    ).toBe(401);
    expect((await json(t.apiPort, 'DELETE', '/api/v1/session', undefined, { cookie })).status).toBe(200);
    expect((await json(t.apiPort, 'GET', '/api/v1/services', undefined, { cookie })).status).toBe(401);
  });

  it('streams changes live: a new version, an upstream going down, a security event', async () => {
    const ok = await post('/api/v1/session', {
      username: 'root',
      password: 'root password 1',
      // Each TOTP step signs in once: a recovery code this time.
      totp: recovery[0],
    });
    const cookie = cookieOf(ok as never);
    const stream = openStream(t.apiPort, { cookie });
    try {
      await until(() => (stream.events.some((e) => e.event === 'hello') ? true : undefined), 5_000);
      await t.api('PUT', '/api/v1/services/watched', {
        hosts: ['watched.test'],
        routes: [
          {
            upstreams: [`127.0.0.1:${app.port}`],
            health: { path: '/health', interval: '200ms', timeout: '500ms' },
          },
        ],
      });
      await until(
        () =>
          stream.events.some(
            (e) => e.event === 'version' && (e.data.names as string[] | undefined)?.includes('watched'),
          )
            ? true
            : undefined,
        2_000,
      );
      healthy = false;
      const t0 = Date.now();
      const down = await until(
        () =>
          stream.events.find(
            (e) =>
              e.event === 'edge' && (e.data.downServers as string[]).some((s) => s.startsWith('watched-r0 ')),
          ),
        5_000,
      );
      expect(down).toBeDefined();
      // Within the health check's interval plus an apply: well under a second here.
      expect(Date.now() - t0).toBeLessThan(1500);
      await post('/api/v1/session', { username: 'root', password: 'wrong wrong wrong' });
      await until(
        () =>
          stream.events.some((e) => e.event === 'security' && e.data.kind === 'login_failed')
            ? true
            : undefined,
        2_000,
      );
    } finally {
      healthy = true;
      stream.close();
    }
  });
});
