import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../helpers/browser.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, freePort, http, until, type Res, type TestServer } from '../helpers/net.js';
import { testDir } from '../helpers/tmp.js';

const root = resolve(import.meta.dirname, '..', '..');

/**
 * The gate guarding proxies Gatehouse does not drive: a separate nginx configured with the
 * documented auth_request snippet (docs/examples/nginx-auth-request.conf), and Traefik's
 * forward-auth request (its X-Forwarded-* headers, as Traefik sends them).
 */
describe('gate: forward auth for other proxies', () => {
  let t: TestGatehouse;
  let app: TestServer;
  let nginx: ChildProcess;
  let port: number;
  const seen = (r: Res) => JSON.parse(r.body) as { headers: Record<string, string> };

  beforeAll(async () => {
    t = await startTestGatehouse({ base_domain: 'home.test' });
    app = await echoBackend('own');
    await t.api('POST', '/api/v1/groups', { name: 'family' });
    await t.api('POST', '/api/v1/users', { username: 'ann', password: 'ann password 1', groups: ['family'] });
    await t.api('POST', '/api/v1/users', { username: 'bo', password: 'bo password 12', name: '张伟 Zoë' });
    // Your own nginx, with the snippet from the docs.
    port = await freePort();
    const dir = await testDir('gh-own-nginx-');
    for (const d of ['logs', 'run', 'tmp']) await mkdir(join(dir, d), { recursive: true });
    const snippet = (await readFile(join(root, 'docs', 'examples', 'nginx-auth-request.conf'), 'utf8'))
      .replaceAll('{{LISTEN}}', `127.0.0.1:${port}`)
      .replaceAll('{{GATEHOUSE}}', `127.0.0.1:${t.httpPort}`)
      .replaceAll('{{PORTAL}}', 'auth.home.test')
      .replaceAll('{{BACKEND}}', `127.0.0.1:${app.port}`);
    const conf = [
      `pid ${dir}/run/nginx.pid;`,
      `error_log ${dir}/logs/error.log warn;`,
      'events {}',
      'http {',
      `  access_log off; client_body_temp_path ${dir}/tmp/body; proxy_temp_path ${dir}/tmp/proxy;`,
      `  fastcgi_temp_path ${dir}/tmp/f; uwsgi_temp_path ${dir}/tmp/u; scgi_temp_path ${dir}/tmp/s;`,
      snippet,
      '}',
    ].join('\n');
    await writeFile(join(dir, 'nginx.conf'), conf);
    nginx = spawn(
      'nginx',
      ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'logs', 'error.log'), '-g', 'daemon off;'],
      {
        stdio: 'ignore',
      },
    );
    await until(async () => (await http(port, 'app.home.test').catch(() => undefined)) !== undefined, 10_000);
  });
  afterAll(async () => {
    if (nginx?.pid) {
      const exited = new Promise((r) => nginx.once('exit', r));
      nginx.kill('SIGTERM');
      await exited;
    }
    await t?.close();
    await app?.close();
  });

  it('nginx auth_request: 401 becomes a redirect to the portal; a session passes with identity', async () => {
    const b = new Browser(port);
    const first = await b.get('app.home.test', '/page');
    expect(first.status).toBe(302);
    const login = new URL(first.headers.location as string);
    // The portal where Gatehouse's proxy serves it (its listener's port: a high one here).
    expect(login.host).toBe(`auth.home.test:${t.httpPort}`);
    expect(login.searchParams.get('rd')).toBe('http://app.home.test/page');
    // Sign in at the portal (through Gatehouse), then back at our own nginx with the cookie.
    const portal = new Browser(t.httpPort);
    await portal.login('ann', 'ann password 1');
    const cookie = `gh_session=${portal.cookie as string}`;
    const page = await http(port, 'app.home.test', '/page', { headers: { cookie, 'remote-user': 'spoof' } });
    expect(page.status).toBe(200);
    expect(seen(page).headers['remote-user']).toBe('ann');
    expect(seen(page).headers['remote-groups']).toBe('family');
    // A forged cookie is refused.
    const forged = await http(port, 'app.home.test', '/', { headers: { cookie: 'gh_session=x.y' } });
    expect(forged.status).toBe(302);
  });

  it("Traefik's forwardAuth: a redirect to the portal, identity headers, groups", async () => {
    const traefik = (headers: Record<string, string>, query = '') =>
      t.get('auth.home.test', `/verify${query}`, {
        headers: {
          'x-forwarded-method': 'GET',
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'grafana.home.test',
          'x-forwarded-uri': '/d/abc?x=1',
          ...headers,
        },
      });
    const anon = await traefik({});
    expect(anon.status).toBe(302);
    expect(new URL(anon.headers.location as string).searchParams.get('rd')).toBe(
      'https://grafana.home.test/d/abc?x=1',
    );
    const ann = new Browser(t.httpPort);
    await ann.login('ann', 'ann password 1');
    const ok = await traefik({ cookie: `gh_session=${ann.cookie as string}` }, '?group=family');
    expect(ok.status).toBe(200);
    expect(ok.headers['remote-user']).toBe('ann');
    expect(ok.headers['x-groups']).toBe('family');
    const bo = new Browser(t.httpPort);
    await bo.login('bo', 'bo password 12');
    expect((await traefik({ cookie: `gh_session=${bo.cookie as string}` }, '?group=family')).status).toBe(
      403,
    );
    // A host outside the cookie's domain gets no pass from it.
    const other = await traefik({
      cookie: `gh_session=${ann.cookie as string}`,
      'x-forwarded-host': 'evil.test',
    });
    expect(other.status).toBe(302);
    expect((await t.get('auth.home.test', '/verify', { headers: { 'x-forwarded-host': '' } })).status).toBe(
      400,
    );
  });
});
