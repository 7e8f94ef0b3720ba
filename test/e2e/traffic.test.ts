import { readFile, rm } from 'node:fs/promises';
import { createServer as createNetServer, connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, type Gatehouse } from '../../src/gatehouse.js';
import type { AccessLogRecord, AccessLogSink } from '../../src/model/access-log.js';
import { EdgeAgent } from '../../src/edge/agent.js';
import { createLogger } from '../../src/observe/log.js';
import { Browser } from '../helpers/browser.js';
import { ADMIN_TOKEN, alive, loopbackSettings } from '../helpers/gatehouse.js';
import { echoBackend, freePort, http, json, until, type TestServer } from '../helpers/net.js';
import { testDir } from '../helpers/tmp.js';

/** A sink that keeps what it is given (the log store stands here in Gatehouse). */
class RecordingSink implements AccessLogSink {
  readonly records: AccessLogRecord[] = [];
  ingest(records: readonly AccessLogRecord[]): Promise<void> {
    this.records.push(...records);
    return Promise.resolve();
  }
}

/** `name{labels} value` lines of a metric, as a map from the label text to the value. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (m && m[1] === name) out.set(m[2] as string, Number(m[3]));
  }
  return out;
}

/**
 * Issue 18, traffic from nginx: requests through the real nginx to a few services land in
 * /metrics by service, route and status class (node "local"), and as access log records (service,
 * route, status, path without its query) in the sink; a rotated log loses nothing. A remote edge
 * agent (in this process, with its own nginx) sends its records and counters to the control
 * plane, which exports them with node=<edge name>; the edge serves the same metrics itself.
 */
describe('traffic metrics and access log records from nginx', () => {
  let gh: Gatehouse;
  let dataDir: string;
  let httpPort: number;
  let apiPort: number;
  let app: TestServer;
  const sink = new RecordingSink();
  const api = (method: string, path: string, body?: unknown, token = ADMIN_TOKEN) =>
    json(apiPort, method, path, body, { authorization: `Bearer ${token}` });
  const metrics = async () =>
    (await http(apiPort, '127.0.0.1', '/metrics', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }))
      .body;
  const requests = async (labels: string) =>
    samples(await metrics(), 'gatehouse_http_requests_total').get(labels) ?? 0;

  beforeAll(async () => {
    dataDir = await testDir('gh-traffic-');
    const s = await loopbackSettings(dataDir, {
      admin_token: ADMIN_TOKEN,
      register_token: 'test-register-token-0123456789',
      base_domain: 'gw.test',
      nginx_workers: 1,
    });
    httpPort = s.httpPort;
    apiPort = s.apiPort;
    gh = await startGatehouse(s.settings, createLogger(process.env.GATEHOUSE_TEST_LOG ?? 'silent'), {
      accessLogSink: sink,
    });
    app = await echoBackend('app');
    const up = [`127.0.0.1:${app.port}`];
    const put = async (name: string, body: unknown) => {
      const r = await api('PUT', `/api/v1/services/${name}?wait=true`, body);
      expect(r.status, JSON.stringify(r.json)).toBe(201);
    };
    // The fast lane (one public "/" route): no $gh_pool, named from its host.
    await put('alpha', { hosts: ['alpha.test'], routes: [{ upstreams: up }] });
    // A server block with two routes: $gh_pool names each.
    await put('beta', {
      hosts: ['beta.test'],
      routes: [{ path: '/api', upstreams: up }, { upstreams: up }],
    });
    // Behind the sign-in: the log names the user.
    await put('wiki', { hosts: ['wiki.gw.test'], routes: [{ upstreams: up }], access: { login: {} } });
    expect((await api('POST', '/api/v1/users', { username: 'ida', password: 'ida password 1' })).status).toBe(
      201,
    );
    // Its upstream refuses connections: 502.
    await put('gamma', { hosts: ['gamma.test'], routes: [{ upstreams: [`127.0.0.1:${await freePort()}`] }] });
  });
  afterAll(async () => {
    const pid = gh?.edge.getStatus().proxy.pid;
    await gh?.close();
    await app?.close();
    if (pid !== undefined) expect(alive(pid)).toBe(false);
    await rm(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  });

  it('counts requests by service, route and status class, and hands records to the sink', async () => {
    const get = (host: string, path: string) => http(httpPort, host, path);
    for (let i = 0; i < 3; i++) expect((await get('alpha.test', `/hello?token=secret${i}`)).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await get('beta.test', '/api/items?q=1')).status).toBe(200);
    expect((await get('beta.test', '/home')).status).toBe(200);
    const gamma = (await get('gamma.test', '/')).status;
    expect([502, 503]).toContain(gamma);
    expect((await get('nobody.test', '/x')).status).toBe(404);
    const b = new Browser(httpPort);
    await b.login('ida', 'ida password 1', 'auth.gw.test');
    expect((await b.get('wiki.gw.test', '/page?session=x')).status).toBe(200);

    // nginx flushes its log every second; the reader polls.
    await until(
      async () =>
        (await requests('node="local",service="gamma",route="/",status_class="5xx"')) === 1
          ? true
          : undefined,
      10_000,
      200,
    );
    const text = await metrics();
    const req = samples(text, 'gatehouse_http_requests_total');
    expect(req.get('node="local",service="alpha",route="/",status_class="2xx"')).toBe(3);
    expect(req.get('node="local",service="beta",route="/api",status_class="2xx"')).toBe(2);
    expect(req.get('node="local",service="beta",route="/",status_class="2xx"')).toBe(1);
    expect(req.get('node="local",service="_none",route="_none",status_class="4xx"')).toBe(1);
    // Latency and bytes by service and route; the refused upstream is a failed attempt.
    expect(
      samples(text, 'gatehouse_http_request_duration_seconds_count').get(
        'node="local",service="alpha",route="/"',
      ),
    ).toBe(3);
    expect(
      samples(text, 'gatehouse_http_upstream_duration_seconds_count').get(
        'node="local",service="beta",route="/api"',
      ),
    ).toBe(2);
    expect(
      samples(text, 'gatehouse_http_response_bytes_total').get('node="local",service="alpha",route="/"'),
    ).toBeGreaterThan(300);
    expect(
      samples(text, 'gatehouse_http_upstream_failures_total').get('node="local",service="gamma",route="/"'),
    ).toBeGreaterThanOrEqual(1);
    // nginx's connections (stub_status on its status socket): at least the one asking.
    expect(
      samples(text, 'gatehouse_nginx_connections').get('node="local",state="active"'),
    ).toBeGreaterThanOrEqual(1);
    // Never a path or a client address in a label.
    expect(text).not.toMatch(/gatehouse_http_[a-z_]+\{[^}]*(hello|items|127\.0\.0\.1)/);

    await gh.traffic.pipeline.poll();
    const alpha = sink.records.filter((r) => r.service === 'alpha');
    expect(alpha).toHaveLength(3);
    expect(alpha[0]).toMatchObject({
      node: 'local',
      host: 'alpha.test',
      route: '/',
      method: 'GET',
      path: '/hello',
      status: 200,
      upstream: `127.0.0.1:${app.port}`,
      client: '127.0.0.1',
      user: null,
    });
    expect(alpha[0]?.bytes_out).toBeGreaterThan(100);
    expect(alpha[0]?.upstream_ms).not.toBeNull();
    expect(JSON.stringify(sink.records)).not.toContain('secret');
    expect(sink.records.filter((r) => r.service === 'beta').map((r) => [r.route, r.path])).toEqual([
      ['/api', '/api/items'],
      ['/api', '/api/items'],
      ['/', '/home'],
    ]);
    expect(sink.records.find((r) => r.service === 'gamma')).toMatchObject({ status: gamma, route: '/' });
    expect(sink.records.find((r) => r.host === 'nobody.test')).toMatchObject({ service: null, status: 404 });
    expect(sink.records.find((r) => r.service === 'wiki' && r.status === 200)).toMatchObject({
      user: 'ida',
      path: '/page',
    });
    // No warning a request in nginx's error log (an unset $gh_pool in the fast lane).
    expect(await readFile(join(dataDir, 'nginx', 'logs', 'error.log'), 'utf8')).not.toContain(
      'uninitialized',
    );
  });

  it('loses no line when nginx reopens a rotated log', async () => {
    const alpha = 'node="local",service="alpha",route="/",status_class="2xx"';
    const counted = (n: number) =>
      until(async () => ((await requests(alpha)) === n ? true : undefined), 10_000, 200);
    const before = await requests(alpha);
    const get = () => http(httpPort, 'alpha.test', '/rotated');
    for (let i = 0; i < 5; i++) expect((await get()).status).toBe(200);
    await counted(before + 5);
    // Five more, still in nginx's buffer when the log is renamed and nginx told to reopen it (USR1).
    for (let i = 0; i < 5; i++) expect((await get()).status).toBe(200);
    expect(await gh.edge['driver'].rotateLogs(1)).toContain('access.log');
    for (let i = 0; i < 5; i++) expect((await get()).status).toBe(200);
    await counted(before + 15);
    await gh.traffic.pipeline.poll();
    expect(sink.records.filter((r) => r.path === '/rotated')).toHaveLength(15);
  });

  it('counts TCP route sessions from the stream log, by service and port', async () => {
    const echo = createNetServer((sock) => sock.on('data', (d) => sock.end(`tcp:${String(d)}`)));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    try {
      const port = await freePort();
      const r = await api('PUT', '/api/v1/services/mq?wait=true', {
        tcp: [{ port, upstreams: [`127.0.0.1:${(echo.address() as AddressInfo).port}`] }],
      });
      expect(r.status, JSON.stringify(r.json)).toBe(201);
      for (let i = 0; i < 2; i++) {
        const answer = await new Promise<string>((resolve, reject) => {
          const c = connect(port, '127.0.0.1', () => c.write('hi'));
          let got = '';
          c.on('data', (d) => (got += String(d)));
          c.on('end', () => resolve(got));
          c.on('error', reject);
        });
        expect(answer).toBe('tcp:hi');
      }
      const labels = `node="local",service="mq",route="${port}"`;
      await until(
        async () =>
          samples(await metrics(), 'gatehouse_tcp_sessions_total').get(`${labels},status_class="2xx"`) === 2
            ? true
            : undefined,
        10_000,
        200,
      );
      const text = await metrics();
      expect(samples(text, 'gatehouse_tcp_received_bytes_total').get(labels)).toBe(4);
      expect(samples(text, 'gatehouse_tcp_sent_bytes_total').get(labels)).toBe(12);
      expect(samples(text, 'gatehouse_tcp_session_duration_seconds_count').get(labels)).toBe(2);
    } finally {
      // Gone before the edge below starts: its nginx could not take the same port on this machine.
      expect((await api('DELETE', '/api/v1/services/mq?wait=true')).status).toBe(200);
      echo.close();
    }
  });

  it("takes a remote edge's records and counters, exported with node=<edge name>", async () => {
    const node = await api('POST', '/api/v1/nodes', { name: 'vps', role: 'public' });
    expect(node.status).toBe(201);
    const token = String(node.json.token);
    const edgePort = await freePort();
    const metricsPort = await freePort();
    const agent = new EdgeAgent({
      control: `http://127.0.0.1:${apiPort}`,
      token,
      dataDir: await testDir('gh-traffic-edge-'),
      httpPort: edgePort,
      httpsPort: 0,
      nginxBin: 'nginx',
      modulesDir: '/usr/lib/nginx/modules',
      workers: 1,
      log: createLogger('silent'),
      metricsListen: { host: '127.0.0.1', port: metricsPort },
    });
    const running = agent.run();
    try {
      await until(
        async () =>
          (await http(edgePort, 'alpha.test', '/').catch(() => undefined))?.status === 200 ? true : undefined,
        15_000,
        100,
      );
      const n0 = sink.records.filter((r) => r.node === 'vps').length;
      for (let i = 0; i < 4; i++) expect((await http(edgePort, 'beta.test', '/api/e?k=v')).status).toBe(200);
      await until(
        async () =>
          (await requests('node="vps",service="beta",route="/api",status_class="2xx"')) === 4
            ? true
            : undefined,
        10_000,
        200,
      );
      const fromVps = sink.records.filter((r) => r.node === 'vps').slice(n0);
      expect(fromVps.filter((r) => r.path === '/api/e')).toHaveLength(4);
      expect(fromVps.find((r) => r.path === '/api/e')).toMatchObject({
        service: 'beta',
        route: '/api',
        status: 200,
      });
      // The edge's own endpoint: the same metrics, node "local" (the machine scraped).
      const own = await http(metricsPort, '127.0.0.1', '/metrics');
      expect(
        samples(own.body, 'gatehouse_http_requests_total').get(
          'node="local",service="beta",route="/api",status_class="2xx"',
        ),
      ).toBe(4);
    } finally {
      await agent.stop();
      await running.catch(() => undefined);
    }
  });

  it('refuses a batch that is not valid (naming the field) and a wrong token', async () => {
    const node = await api('POST', '/api/v1/nodes', { name: 'lan1', role: 'lan' });
    const token = String(node.json.token);
    const bad = await api('POST', '/edge/v1/access-logs', { records: [{ time: -1 }] }, token);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toContain('records');
    expect((await api('POST', '/edge/v1/access-logs', { records: [] }, 'not-a-node-token')).status).toBe(401);
    expect((await api('POST', '/edge/v1/access-logs', { records: [] }, token)).status).toBe(200);
  });

  it("an edge's own refusals (403 with no upstream asked) become security events naming the edge", async () => {
    const node = await api('POST', '/api/v1/nodes', { name: 'lan2', role: 'lan' });
    const token = String(node.json.token);
    const record = {
      time: Date.now(),
      node: 'whatever-the-edge-says',
      host: 'beta.test',
      service: 'beta',
      route: '/',
      method: 'GET',
      path: '/secret',
      status: 403,
      duration_ms: 0,
      upstream: null,
      upstream_ms: null,
      bytes_in: 90,
      bytes_out: 150,
      client: '198.51.100.77',
      user: null,
      country: null,
    };
    const passed = { ...record, path: '/fine', status: 403, upstream: '10.0.0.1:80', upstream_ms: 1 };
    const sent = await api('POST', '/edge/v1/access-logs', { records: [record, passed] }, token);
    expect(sent.status, JSON.stringify(sent.json)).toBe(200);
    const events = (await api('GET', '/api/v1/events?kind=denied')).json as unknown as {
      events: { ip: string; detail: string; path: string }[];
    };
    const fromEdge = events.events.filter((e) => e.ip === '198.51.100.77');
    // The upstream's own 403 is the application's answer, not a refusal of Gatehouse's.
    expect(fromEdge.map((e) => e.detail)).toEqual(['beta.test/secret (edge lan2)']);
    // And the record is kept under the token's node, not the one the edge wrote.
    expect(sink.records.filter((r) => r.client === '198.51.100.77').map((r) => r.node)).toEqual([
      'lan2',
      'lan2',
    ]);
  });
});
