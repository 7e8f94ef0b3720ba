import { chmod, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse } from '../../src/gatehouse.js';
import { createLogger } from '../../src/observe/log.js';
import { Browser } from '../helpers/browser.js';
import { startEdgeAgent, type EdgeProcess } from '../helpers/edge.js';
import { writeGeoipDb } from '../helpers/geoip.js';
import { ADMIN_TOKEN, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, freePort, http, until, type Res, type TestServer } from '../helpers/net.js';
import { https, makeCa } from '../helpers/tls.js';
import { testDir } from '../helpers/tmp.js';

/**
 * A remote edge serves on its own what needs no round trip: HTTPS with the control plane's
 * certificates, sessions checked by its nginx; sign-in and links go through the control plane's
 * gate (relayed), and revocations reach the edge before the answer that caused them.
 */
describe('edge: gate and certificates on a remote edge', () => {
  let t: TestGatehouse;
  let app: TestServer;
  let edge: EdgeProcess;
  let edgeDir: string;
  let httpPort: number;
  let httpsPort: number;
  let ca: ReturnType<typeof makeCa>;
  let fingerprint: string;
  let token: string;
  const up = () => [`127.0.0.1:${app.port}`];
  const seen = (r: Res) => JSON.parse(r.body) as { headers: Record<string, string> };
  const put = (name: string, body: unknown) => t.api('PUT', `/api/v1/services/${name}?wait=true`, body);
  const inSync = async () =>
    (
      (await t.api('GET', '/api/v1/nodes')).json as unknown as {
        nodes: { in_sync: boolean }[];
      }
    ).nodes[0]?.in_sync
      ? true
      : undefined;

  beforeAll(async () => {
    t = await startTestGatehouse({ base_domain: 'home.test' });
    app = await echoBackend('app');
    expect(
      (await t.api('POST', '/api/v1/users', { username: 'alice', password: 'correct horse battery' })).status,
    ).toBe(201);
    await put('wiki', { hosts: ['wiki.home.test'], routes: [{ upstreams: up() }], access: { login: {} } });
    await put('share', {
      hosts: ['share.home.test'],
      routes: [{ upstreams: up() }],
      access: { links: true },
    });
    await put('www', { hosts: ['www.home.test'], routes: [{ upstreams: up() }] });
    await put('api', { hosts: ['api.home.test'], routes: [{ upstreams: up() }], access: { api_keys: true } });
    // GeoIP on the edge, from its own database: 127.0.0.10 is in Germany, 127.0.0.20 in the US.
    await put('eu', {
      hosts: ['eu.home.test'],
      routes: [{ upstreams: up() }],
      access: { public: true, rules: [{ action: 'deny', country_not: ['DE'] }] },
    });
    const geoDir = await testDir('gh-edge-geo-');
    await chmod(geoDir, 0o755);
    const geoDb = join(geoDir, 'country.mmdb');
    await writeGeoipDb(geoDb, {
      '127.0.0.10/32': { country: 'DE', asn: 3320 },
      '127.0.0.20/32': { country: 'US', asn: 15169 },
    });
    ca = makeCa(await testDir('gh-edge-ca-'));
    const leaf = ca.issue(['www.home.test']);
    const uploaded = await t.api('POST', '/api/v1/certificates', leaf);
    expect(uploaded.status, JSON.stringify(uploaded.json)).toBe(201);
    fingerprint = String(uploaded.json.fingerprint);
    const node = await t.api('POST', '/api/v1/nodes', { name: 'vps', role: 'public' });
    token = String(node.json.token);
    edgeDir = await testDir('gh-edge-');
    httpPort = await freePort();
    httpsPort = await freePort();
    edge = startEdgeAgent({
      control: `http://127.0.0.1:${t.apiPort}`,
      token,
      dir: edgeDir,
      httpPort,
      httpsPort,
      extra: ['--geoip-db', geoDb],
    });
    await until(inSync, 15_000);
  });
  afterAll(async () => {
    await edge?.stop();
    await t?.close();
    await app?.close();
  });

  it('serves HTTPS with the certificate the control plane holds; keys are never stored in the clear', async () => {
    const r = await https(httpsPort, 'www.home.test', '/', ca.ca);
    expect(r.status).toBe(200);
    expect(r.fingerprint).toBe(fingerprint);
    // Plain HTTP redirects to HTTPS, as on the control plane's own edge.
    const plain = await http(httpPort, 'www.home.test', '/x');
    expect(plain.status).toBe(301);
    expect(plain.headers.location).toBe(`https://www.home.test:${httpsPort}/x`);
    const cache = await readFile(join(edgeDir, 'state.cache'));
    expect(cache.includes(Buffer.from('PRIVATE KEY'))).toBe(false);
    expect(cache.includes(Buffer.from('www.home.test'))).toBe(false);
  });

  it('signs in through the edge (the portal is relayed) and checks the session at the edge', async () => {
    const b = new Browser(httpPort);
    const first = await b.get('wiki.home.test', '/page');
    expect(first.status).toBe(302);
    expect(new URL(String(first.headers.location)).host).toBe('auth.home.test');
    const form = await b.follow(first);
    expect(form.status).toBe(200);
    expect(form.body).toContain('<form method="post"');
    const done = await b.post('auth.home.test', '/login', {
      username: 'alice',
      password: 'correct horse battery',
      rd: 'http://wiki.home.test/page',
    });
    expect(done.status).toBe(303);
    const page = await b.get('wiki.home.test', '/page');
    expect(page.status).toBe(200);
    expect(seen(page).headers['remote-user']).toBe('alice');
    // The sign-in happened at the control plane's gate, with the client address the edge saw.
    const events = (await t.api('GET', '/api/v1/events?kind=login')).json as unknown as {
      events: { ip: string }[];
    };
    expect(events.events.at(0)?.ip).toBe('127.0.0.1');

    // Signing out through the edge: the old cookie stops working with the very next request.
    const old = b.cookie as string;
    const out = await b.post('auth.home.test', '/logout', {});
    expect(out.body).toContain('You have been signed out');
    const replay = await http(httpPort, 'wiki.home.test', '/page', {
      headers: { cookie: `gh_session=${old}`, accept: 'text/html' },
    });
    expect(replay.status).toBe(302);
  });

  it('a temporary link opened at the edge admits that address at once', async () => {
    const from = { localAddress: '127.0.0.21', headers: { accept: 'text/html' } };
    expect((await http(httpPort, 'share.home.test', '/', from)).status).toBe(403);
    const created = await t.api('POST', '/api/v1/links', { service: 'share', ttl: '1h' });
    const url = new URL(String(created.json.url));
    const open = await http(httpPort, url.host, url.pathname, from);
    expect(open.status).toBe(303);
    expect((await http(httpPort, 'share.home.test', '/', from)).status).toBe(200);
    // Another address is still refused.
    expect(
      (await http(httpPort, 'share.home.test', '/', { ...from, localAddress: '127.0.0.22' })).status,
    ).toBe(403);
  });

  it('an API key works at the edge as soon as it is made, and stops when revoked', async () => {
    const created = await t.api('POST', '/api/v1/api-keys', { name: 'ci', services: ['api'] });
    expect(created.status).toBe(201);
    const auth = { headers: { authorization: `Bearer ${String(created.json.token)}` } };
    // The key's file reaches the edge with the gate state (a file watch, then the feed).
    await until(async () => (await http(httpPort, 'api.home.test', '/', auth)).status === 200, 10_000);
    const id = (created.json.key as { id: string }).id;
    expect((await t.api('DELETE', `/api/v1/api-keys/${id}`)).status).toBe(200);
    await until(async () => (await http(httpPort, 'api.home.test', '/', auth)).status === 401, 10_000);
  });

  it('checks GeoIP rules against the edge’s own database', async () => {
    const from = (ip: string) => http(httpPort, 'eu.home.test', '/', { localAddress: ip });
    expect((await from('127.0.0.10')).status).toBe(200);
    expect((await from('127.0.0.20')).status).toBe(403);
  });

  it('answers the service’s offline page while its upstream is down, reports it, and recovers', async () => {
    const port = await freePort();
    let backend = await echoBackend('status', port);
    await put('status', {
      hosts: ['status.home.test'],
      tls: 'none',
      offline_page: {
        title: 'Family <Photos>',
        message: 'Back after the backup finishes (about 10 minutes).',
      },
      routes: [
        { upstreams: [`127.0.0.1:${port}`], health: { path: '/', interval: '200ms', timeout: '500ms' } },
      ],
    });
    await until(
      async () => ((await http(httpPort, 'status.home.test')).status === 200 ? true : undefined),
      10_000,
    );
    await backend.close();
    const down = await until(async () => {
      const r = await http(httpPort, 'status.home.test', '/', { headers: { accept: 'text/html' } });
      return r.status === 503 ? r : undefined;
    }, 5_000);
    expect(down.headers['retry-after']).toBe('10');
    expect(down.body).toContain('<h1>Family &lt;Photos&gt; is offline</h1>');
    expect(down.body).toContain('Back after the backup finishes (about 10 minutes).');
    // The edge's health checks report the server down to the control plane, which exports it.
    const key = `status-r0 127.0.0.1:${port}`;
    await until(async () => {
      const n = (
        (await t.api('GET', '/api/v1/nodes')).json as unknown as { nodes: { down_servers: string[] }[] }
      ).nodes[0];
      return n?.down_servers.includes(key) ? true : undefined;
    }, 5_000);
    const metrics = async () =>
      (
        await http(t.apiPort, '127.0.0.1', '/metrics', {
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        })
      ).body;
    const m = await metrics();
    expect(m).toContain(`gatehouse_upstream_up{node="vps",pool="status-r0",server="127.0.0.1:${port}"} 0`);
    expect(m).toContain('gatehouse_node_up{node="vps",role="public"} 1');
    expect(m).toContain('gatehouse_node_config_in_sync{node="vps"} 1');
    // Back: served again without anyone doing anything.
    backend = await echoBackend('status', port);
    try {
      await until(
        async () => ((await http(httpPort, 'status.home.test')).status === 200 ? true : undefined),
        5_000,
      );
      await until(async () =>
        (await metrics()).includes(
          `gatehouse_upstream_up{node="vps",pool="status-r0",server="127.0.0.1:${port}"} 1`,
        )
          ? true
          : undefined,
      );
    } finally {
      await backend.close();
    }
    await t.api('DELETE', '/api/v1/services/status');
  });

  it('with the control plane down, sessions keep working at the edge and sign-in fails closed', async () => {
    const b = new Browser(httpPort);
    await b.login('alice', 'correct horse battery');
    expect((await b.get('wiki.home.test', '/')).status).toBe(200);
    const settings = t.gh.settings;
    await t.gh.close();
    try {
      expect((await b.get('wiki.home.test', '/')).status).toBe(200);
      const stranger = await http(httpPort, 'wiki.home.test', '/', { headers: { accept: 'text/html' } });
      expect(stranger.status).toBe(302);
      const portal = await http(httpPort, 'auth.home.test', '/login', { headers: { accept: 'text/html' } });
      expect(portal.status).toBe(503);
      // Certificates' files on the edge are the fingerprints it was sent and the fallback pair its
      // HTTPS servers name (a copy, never sent), nothing else.
      const files = await readdir(join(edgeDir, 'nginx', 'tls'));
      expect(files.sort()).toEqual(
        [`${fingerprint}.crt`, `${fingerprint}.key`, 'fallback.crt', 'fallback.key'].sort(),
      );
    } finally {
      t.gh = await startGatehouse(settings, createLogger('silent'));
    }
    await until(inSync, 15_000);
  });
});
