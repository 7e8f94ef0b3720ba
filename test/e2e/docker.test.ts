import { hash } from '@node-rs/argon2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dockerd } from '../helpers/dockerd.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { until, type ReqOptions, type Res } from '../helpers/net.js';

interface ContainerStatus {
  name: string;
  services: string[];
  problems: { label: string; message: string }[];
}
interface DockerStatus {
  connected: boolean;
  lastSync?: string;
  containers: ContainerStatus[];
}

/**
 * Docker labels against a real dockerd (in a network namespace this test creates, containers on its
 * bridges, reached by their own IPs), through the test Gatehouse's nginx: what an operator who puts
 * labels in a compose file sees.
 */
describe('docker source', () => {
  let dk: Dockerd;
  let t: TestGatehouse;
  const gh = { 'gatehouse.enable': 'true', 'gatehouse.port': '80' };
  const basic = (user: string, pw: string) => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;

  const status = async (): Promise<DockerStatus> => {
    const r = await t.api('GET', '/api/v1/status');
    return (r.json.sources as { docker: DockerStatus }).docker;
  };
  const container = async (name: string) => (await status()).containers.find((c) => c.name === name);
  /**
   * Waits until the container's services are gone from the registry and nginx serves that. (A
   * request sent before would go to an address that no longer exists and wait for the connect timeout.)
   */
  const withdrawn = async (name: string) => {
    await until(async () => ((await container(name)) === undefined ? true : undefined), 10_000);
    await t.gh.edge.waitFor(t.gh.registry.version, 10_000);
  };
  /**
   * Waits until `host` answers `want` (status, and body when given). Every check polls: an nginx
   * worker of the config before may still take a connection for a moment after a reload.
   */
  const answers = (
    host: string,
    want: number,
    body?: string,
    path = '/',
    opts: ReqOptions = {},
  ): Promise<Res> =>
    until(async () => {
      const r = await t.get(host, path, opts);
      return r.status === want && (body === undefined || r.body === `${body}\n`) ? r : undefined;
    }, 10_000);

  beforeAll(async () => {
    dk = await Dockerd.start();
    // Running before Gatehouse starts: only the first resync can find it.
    await dk.run('early', {
      labels: { ...gh, 'gatehouse.domain': 'early.docker.test', 'gatehouse.auth': 'none' },
    });
    // vpn-only admits every private range here (the veth's address is one), not only vpn_range.
    t = await startTestGatehouse({ docker_endpoint: dk.endpoint, vpn_only_sources: 'private' });
    // A user, so that sign-in is available (a login route without any answers 503).
    expect(
      (await t.api('POST', '/api/v1/users', { username: 'ann', password: 'ann password 1' })).status,
    ).toBe(201);
  });

  afterAll(async () => {
    await t?.close();
    await dk?.close();
  });

  it('publishes a container that was running before Gatehouse started', async () => {
    await answers('early.docker.test', 200, 'early');
    expect(await container('early')).toMatchObject({ services: ['early'], problems: [] });
  });

  it('publishes a started container at once; without auth labels it asks for sign-in', async () => {
    await dk.run('web', {
      labels: { ...gh, 'gatehouse.domain': 'web.docker.test, www.docker.test', 'gatehouse.auth': 'none' },
    });
    await dk.run('guarded', { labels: { ...gh, 'gatehouse.domain': 'guarded.docker.test' } });
    await dk.run('vpn', {
      labels: { ...gh, 'gatehouse.domain': 'vpn.docker.test', 'gatehouse.access': 'vpn-only' },
    });
    await answers('web.docker.test', 200, 'web');
    await answers('www.docker.test', 200, 'web');
    await answers('guarded.docker.test', 401);
    // vpn-only: private ranges pass (the veth address is one), loopback does not.
    await answers('vpn.docker.test', 200, 'vpn', '/', { address: dk.rootIp });
    await answers('vpn.docker.test', 403);
  });

  it('removes the routes of a stopped container (the host is unknown again)', async () => {
    await dk.docker(['stop', 'web']);
    await withdrawn('web');
    await answers('web.docker.test', 404);
    await answers('www.docker.test', 404);
    await dk.docker(['rm', 'web']);
  });

  it('follows a container recreated with other labels', async () => {
    await dk.run('app', {
      labels: { ...gh, 'gatehouse.domain': 'v1.docker.test', 'gatehouse.auth': 'none' },
    });
    await answers('v1.docker.test', 200, 'app');
    await dk.docker(['rm', '-f', 'app']);
    await withdrawn('app');
    await dk.run('app', {
      body: 'app v2',
      paths: ['v2'],
      labels: {
        ...gh,
        'gatehouse.domain': 'v2.docker.test',
        'gatehouse.path': '/v2/',
        'gatehouse.auth': 'none',
      },
    });
    await answers('v2.docker.test', 200, 'app v2', '/v2/');
    await answers('v1.docker.test', 404);
    await answers('v2.docker.test', 404);
    expect(await container('app')).toMatchObject({ services: ['app'], problems: [] });
  });

  it('reports bad labels on the container, and nothing else changes', async () => {
    await dk.run('bad', {
      labels: { 'gatehouse.enable': 'true', 'gatehouse.domain': 'not a domain', 'gatehouse.port': 'http' },
    });
    await dk.run('clash', {
      labels: { ...gh, 'gatehouse.domain': 'early.docker.test', 'gatehouse.auth': 'none' },
    });
    await dk.run('good', {
      labels: { ...gh, 'gatehouse.domain': 'good.docker.test', 'gatehouse.auth': 'none' },
    });
    await answers('good.docker.test', 200, 'good');
    const bad = await until(() => container('bad'), 5000);
    expect(bad.services).toEqual([]);
    expect(bad.problems.map((p) => p.label)).toEqual(
      expect.arrayContaining(['gatehouse.domain', 'gatehouse.port']),
    );
    expect(bad.problems.find((p) => p.label === 'gatehouse.port')?.message).toMatch(/"http" is not a port/);
    const clash = await until(() => container('clash'), 5000);
    expect(clash.services).toEqual([]);
    expect(clash.problems[0]).toMatchObject({ label: 'gatehouse.domain' });
    expect(clash.problems[0]?.message).toMatch(/early\.docker\.test\/ is already claimed by service early/);
    await answers('early.docker.test', 200, 'early');
  });

  it('serves a compose file written for Traefik unchanged, and reports what it cannot do', async () => {
    const net = { network: Dockerd.APP_NETWORK };
    const hashed = await hash('ci secret');
    await dk.run('proj-web-1', {
      ...net,
      labels: {
        'traefik.enable': 'true',
        'traefik.http.routers.web.rule': 'Host(`shop.docker.test`)',
        'traefik.http.routers.web.entrypoints': 'websecure',
        'traefik.http.routers.web.tls.certresolver': 'le',
        'traefik.http.routers.web.middlewares': 'sec-headers@docker,to-https',
        'traefik.http.middlewares.sec-headers.headers.customResponseHeaders.X-Served-By': 'gatehouse',
        'traefik.http.middlewares.sec-headers.headers.frameDeny': 'true',
        'traefik.http.middlewares.to-https.redirectscheme.scheme': 'https',
        'traefik.http.services.web.loadbalancer.server.port': '80',
      },
    });
    await dk.run('proj-api-1', {
      ...net,
      port: 8080,
      paths: ['api'],
      labels: {
        'traefik.enable': 'true',
        'traefik.http.routers.api.rule': 'Host(`shop.docker.test`) && PathPrefix(`/api`)',
        'traefik.http.routers.api.middlewares': 'api-auth',
        'traefik.http.middlewares.api-auth.basicauth.users': `ci:${hashed}`,
        'traefik.http.services.api.loadbalancer.server.port': '8080',
      },
    });
    await dk.run('proj-admin-1', {
      ...net,
      labels: {
        'traefik.enable': 'true',
        'traefik.http.routers.admin.rule': 'Host(`admin.docker.test`) || Host(`adm.docker.test`)',
        'traefik.http.routers.admin.middlewares': 'lan-only',
        'traefik.http.middlewares.lan-only.ipwhitelist.sourcerange': `${dk.net.veth}.0/24`,
        'traefik.http.services.admin.loadbalancer.server.port': '80',
      },
    });
    await dk.run('proj-legacy-1', {
      ...net,
      labels: {
        'traefik.enable': 'true',
        'traefik.http.routers.legacy.rule': 'Host(`legacy.docker.test`)',
        'traefik.http.routers.legacy.middlewares': 'digest',
        'traefik.http.middlewares.digest.digestauth.users': 'test:traefik:a2688e031edb4be6a3797f3882655c05',
        'traefik.http.routers.old.rule': 'Host(`old.docker.test`)',
        'traefik.http.routers.old.middlewares': 'old-auth',
        'traefik.http.middlewares.old-auth.basicauth.users': 'test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/',
        'traefik.http.routers.open.rule': 'Host(`open.docker.test`) && Method(`GET`)',
        'traefik.http.services.legacy.loadbalancer.server.port': '80',
        'traefik.tcp.routers.db.rule': 'HostSNI(`*`)',
      },
    });
    const shop = await answers('shop.docker.test', 200, 'proj-web-1');
    expect(shop.headers['x-served-by']).toBe('gatehouse');
    expect(shop.headers['x-frame-options']).toBe('DENY');
    await answers('shop.docker.test', 401, undefined, '/api/');
    const api = await t.get('shop.docker.test', '/api/', {
      headers: { authorization: basic('ci', 'ci secret') },
    });
    expect([api.status, api.body]).toEqual([200, 'proj-api-1\n']);
    await answers('admin.docker.test', 200, 'proj-admin-1', '/', { address: dk.rootIp });
    await answers('adm.docker.test', 200, 'proj-admin-1', '/', { address: dk.rootIp });
    await answers('admin.docker.test', 403);

    // Whatever would have restricted access and has no equivalent keeps its router unpublished.
    const legacy = await until(() => container('proj-legacy-1'), 5000);
    expect(legacy.services).toEqual([]);
    const said = legacy.problems.map((p) => `${p.label}: ${p.message}`).join('\n');
    expect(said).toContain(
      'traefik.http.middlewares.digest.digestauth.users: middleware type digestauth is not supported',
    );
    expect(said).toMatch(/old-auth\.basicauth\.users: user test: a password hash in Apache MD5 \(\$apr1\$\)/);
    expect(said).toMatch(/routers\.open\.rule: matcher Method is not supported/);
    expect(said).toContain('traefik.tcp.routers.db.rule: TCP routing by Traefik labels is not supported');
    for (const host of ['legacy.docker.test', 'old.docker.test', 'open.docker.test'])
      expect((await t.get(host)).status).toBe(404);
    const web = await container('proj-web-1');
    expect(web?.services).toEqual(['proj-web-1']);
    expect(web?.problems).toEqual([
      {
        label: 'traefik.http.middlewares.to-https.redirectscheme.scheme',
        message: 'not needed: Gatehouse redirects HTTP to HTTPS itself once a certificate covers the host',
      },
    ]);
  });

  it('keeps serving while the daemon is away, and resyncs when it is back', async () => {
    const earlyPid = Number(await dk.docker(['inspect', '-f', '{{.State.Pid}}', 'early']));
    await dk.stopDaemon();
    await until(async () => !(await status()).connected || undefined, 5000);
    await answers('shop.docker.test', 200, 'proj-web-1');
    // A container dies while nobody watches: no event will ever say so.
    process.kill(earlyPid, 'SIGKILL');
    const back = new Date().toISOString();
    await dk.startDaemon();
    await until(async () => {
      const s = await status();
      return s.connected && (s.lastSync ?? '') > back ? s : undefined;
    }, 15_000);
    await withdrawn('early');
    await answers('early.docker.test', 404);
    await answers('shop.docker.test', 200, 'proj-web-1');
    await answers('good.docker.test', 200, 'good');
    await answers('admin.docker.test', 200, 'proj-admin-1', '/', { address: dk.rootIp });
  });
});
