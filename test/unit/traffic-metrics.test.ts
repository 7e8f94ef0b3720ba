import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import { routePool } from '../../src/drivers/nginx/pools.js';
import { accessLogBatchSchema } from '../../src/model/access-log.js';
import { serviceSchema } from '../../src/model/service.js';
import { parseAccessLine } from '../../src/observe/access-log-parse.js';
import { RouteChanges, RouteResolver } from '../../src/edge/access-log-routes.js';
import { parseStubStatus } from '../../src/observe/traffic-connections.js';
import { parseStreamLine, SHARED, tcpPorts } from '../../src/observe/traffic-tcp.js';
import { TrafficMetrics } from '../../src/observe/traffic-export.js';
import { OTHER, TrafficCounters } from '../../src/observe/traffic-metrics.js';
import { trafficCountersSchema } from '../../src/observe/traffic-schema.js';

function config(services: unknown[]) {
  return compile({
    services: services.map((s) => serviceSchema.parse(s)),
    listeners: { http: 80, https: 443 },
  });
}

/** A gh_main line as nginx writes it (escape=json). */
function line(o: Record<string, string | number>): string {
  const d = {
    time: 1765100000.123,
    host: 'a.test',
    method: 'GET',
    uri: '/',
    status: 200,
    request_time: 0.004,
    upstream_addr: '10.0.0.1:80',
    upstream_status: '200',
    upstream_response_time: '0.003',
    request_length: 80,
    bytes_sent: 420,
    remote_addr: '192.0.2.7',
    pool: '',
    ...o,
  };
  const q = (k: keyof typeof d) => (typeof d[k] === 'number' ? String(d[k]) : JSON.stringify(d[k]));
  return `{${Object.keys(d)
    .map((k) => `"${k}":${q(k as keyof typeof d)}`)
    .join(',')}}`;
}

const up = ['10.0.0.1:80'];
const cfg = config([
  { name: 'app', hosts: ['a.test'], routes: [{ upstreams: up }] },
  {
    name: 'shop',
    hosts: ['shop.test', '*.shop.test'],
    routes: [{ path: '/api', upstreams: up }, { upstreams: ['10.0.0.2:80'] }],
  },
]);

describe('access log lines → records', () => {
  const routes = new RouteResolver();
  routes.update(cfg);

  it('makes a record of a line, service and route named from the host (fast lane)', () => {
    const p = parseAccessLine(line({ uri: '/x/y' }), 'local', routes);
    expect(p?.record).toEqual({
      time: 1765100000123,
      node: 'local',
      host: 'a.test',
      service: 'app',
      route: '/',
      method: 'GET',
      path: '/x/y',
      status: 200,
      duration_ms: 4,
      upstream: '10.0.0.1:80',
      upstream_ms: 3,
      bytes_in: 80,
      bytes_out: 420,
      client: '192.0.2.7',
      user: null,
      country: null,
    });
    expect(accessLogBatchSchema.safeParse([p?.record]).success).toBe(true);
  });

  it("names the route from nginx's pool, else from the longest matching path, wildcards too", () => {
    const api = shopRoute('/api');
    expect(
      parseAccessLine(line({ host: 'shop.test', uri: '/other', pool: api }), 'n', routes)?.record,
    ).toMatchObject({
      service: 'shop',
      route: '/api',
    });
    expect(parseAccessLine(line({ host: 'x.shop.test', uri: '/api/v1' }), 'n', routes)?.record.route).toBe(
      '/api',
    );
    expect(parseAccessLine(line({ host: 'shop.test', uri: '/cart' }), 'n', routes)?.record.route).toBe('/');
    expect(parseAccessLine(line({ host: 'nobody.test' }), 'n', routes)?.record).toMatchObject({
      service: null,
      route: null,
    });
  });

  it('counts retries and failed attempts, keeps the last peer, and bounds every field', () => {
    const p = parseAccessLine(
      line({
        upstream_addr: '10.0.0.1:80, 10.0.0.2:80',
        upstream_status: '502, 200',
        upstream_response_time: '0.001, 0.020',
        uri: '/' + 'x'.repeat(5000),
        method: 'PROPFIND'.repeat(4),
        user: 'ida',
      }),
      'n',
      routes,
    );
    expect(p).toMatchObject({ attempts: 2, failures: 1 });
    expect(p?.record).toMatchObject({ upstream: '10.0.0.2:80', upstream_ms: 20, user: 'ida' });
    expect(p?.record.path).toHaveLength(2048);
    expect(accessLogBatchSchema.safeParse([p?.record]).success).toBe(true);
    // No upstream asked (nginx answered itself): no peer, no upstream time.
    const own = parseAccessLine(
      line({ upstream_addr: '', upstream_status: '', upstream_response_time: '', status: 404 }),
      'n',
      routes,
    );
    expect(own?.record).toMatchObject({ upstream: null, upstream_ms: null });
    expect(own).toMatchObject({ attempts: 0, failures: 0 });
  });

  it('reads escaped strings (a quote, a backslash, a control character) as nginx wrote them', () => {
    const l = line({ uri: '/a"b\\c\u0001d', user: 'o"k' });
    expect(l).toContain('\\"');
    const p = parseAccessLine(l, 'n', routes);
    expect(p?.record).toMatchObject({ path: '/a"b\\c\u0001d', user: 'o"k', status: 200 });
  });

  it('skips what is not a gh_main line', () => {
    for (const l of [
      '',
      'garbage',
      '127.0.0.1 [2026-01-01T00:00:00+00:00] "a" "GET / HTTP/1.1" 200 1 0.1',
      '{"time":',
      '{"host":"a"}',
    ])
      expect(parseAccessLine(l, 'n', routes)).toBeUndefined();
  });
});

function shopRoute(path: string): string {
  const r = cfg.sites.flatMap((s) => s.routes).find((x) => x.service === 'shop' && x.path === path);
  if (!r) throw new Error('no route');
  return routePool(r);
}

describe("the reader thread's routes, told by change", () => {
  it('resolves as a resolver given the whole config, through adds, changes and removals', () => {
    const changes = new RouteChanges();
    const told = new RouteResolver();
    const whole = new RouteResolver();
    const same = (c: typeof cfg, probes: [string, string][]) => {
      whole.update(c);
      for (const [host, path] of probes)
        expect(told.resolve(host, path, ''), host + path).toEqual(whole.resolve(host, path, ''));
    };
    const probes: [string, string][] = [
      ['a.test', '/'],
      ['shop.test', '/api/x'],
      ['x.shop.test', '/'],
      ['b.test', '/'],
    ];
    const first = changes.next(cfg);
    expect(first.add).toHaveLength(cfg.sites.length);
    told.apply(first);
    same(cfg, probes);
    // The same config again: nothing to tell.
    expect(changes.next(cfg)).toEqual({ add: [], remove: [] });
    // app removed, b added, shop's hosts changed.
    const next = config([
      { name: 'b', hosts: ['b.test'], routes: [{ upstreams: up }] },
      { name: 'shop', hosts: ['shop.test'], routes: [{ path: '/api', upstreams: up }, { upstreams: up }] },
    ]);
    const change = changes.next(next);
    expect(change.remove.length).toBeGreaterThan(0);
    told.apply(change);
    same(next, probes);
    expect(told.resolve('a.test', '/', '')).toEqual({ service: null, route: null });
  });
});

describe('traffic counters', () => {
  const routes = new RouteResolver();

  it('caps the series at 10,000 services: the rest go to one other series, counted all the same', async () => {
    const services = Array.from({ length: 10_000 }, (_, i) => ({
      name: `svc-${i}`,
      hosts: [`s${i}.test`],
      routes: [{ upstreams: up }],
    }));
    routes.update(config(services));
    const counters = new TrafficCounters(1000);
    for (let i = 0; i < 10_000; i++) {
      for (const status of [200, 503]) {
        const p = parseAccessLine(line({ host: `s${i}.test`, status, uri: `/u/${i}` }), 'local', routes);
        if (!p) throw new Error('not parsed');
        counters.add(p);
      }
    }
    expect(counters.size).toBe(1001);
    expect(counters.lines).toBe(20_000);
    const registry = new Registry();
    new TrafficMetrics(registry).set('local', counters);
    const text = await registry.metrics();
    const requests = text.split('\n').filter((l) => l.startsWith('gatehouse_http_requests_total{'));
    // Two status classes per series, 1,001 series.
    expect(requests).toHaveLength(2002);
    expect(text).toContain(
      `gatehouse_http_requests_total{node="local",service="${OTHER}",route="${OTHER}",status_class="2xx"} 9000`,
    );
    expect(text).toContain(
      'gatehouse_http_requests_total{node="local",service="svc-0",route="/",status_class="5xx"} 1',
    );
    const sum = requests.reduce((n, l) => n + Number(l.split(' ')[1]), 0);
    expect(sum).toBe(20_000);
    // No path in any label.
    expect(text).not.toContain('/u/');
  });

  it('exports histograms that add up, and sends only what changed', async () => {
    routes.update(cfg);
    const c = new TrafficCounters(100, 42);
    const add = (o: Record<string, string | number>) => {
      const p = parseAccessLine(line(o), 'local', routes);
      if (p) c.add(p);
    };
    add({ request_time: 0.004 });
    add({ request_time: 0.3 });
    add({ request_time: 99 });
    const registry = new Registry();
    new TrafficMetrics(registry).set('local', c);
    const text = await registry.metrics();
    const l = 'node="local",service="app",route="/"';
    expect(text).toContain(`gatehouse_http_request_duration_seconds_bucket{${l},le="0.005"} 1`);
    expect(text).toContain(`gatehouse_http_request_duration_seconds_bucket{${l},le="0.5"} 2`);
    expect(text).toContain(`gatehouse_http_request_duration_seconds_bucket{${l},le="30"} 2`);
    expect(text).toContain(`gatehouse_http_request_duration_seconds_bucket{${l},le="+Inf"} 3`);
    expect(text).toContain(`gatehouse_http_request_duration_seconds_count{${l}} 3`);
    expect(text).toMatch(/# TYPE gatehouse_http_request_duration_seconds histogram/);

    const seq = c.seq;
    add({ host: 'shop.test', uri: '/api/x' });
    const wire = c.wire(seq);
    expect(wire.series.map((s) => [s.service, s.route])).toEqual([['shop', '/api']]);
    expect(trafficCountersSchema.safeParse(wire).success).toBe(true);

    // The control plane's copy of an edge: replaced by the edge's figures; a new epoch starts over.
    const remote = new TrafficCounters(100, 0);
    remote.merge(c.wire());
    expect(remote.size).toBe(2);
    remote.merge({ ...c.wire(seq), epoch: 43 });
    expect(remote.size).toBe(1);
  });
});

describe("nginx's connections", () => {
  it('reads stub_status', () => {
    const text =
      'Active connections: 7 \nserver accepts handled requests\n 10 10 42 \nReading: 1 Writing: 2 Waiting: 4 \n';
    expect(parseStubStatus(text)).toEqual({ active: 7, reading: 1, writing: 2, waiting: 4 });
    expect(parseStubStatus('<html>404</html>')).toBeUndefined();
  });
});

describe('TCP routes from the stream log', () => {
  it('reads a session line, names the service by port (shared ports by SNI as _shared)', () => {
    const tcp = config([
      { name: 'mq', tcp: [{ port: 1883, upstreams: up }] },
      { name: 'a', tcp: [{ port: 443, upstreams: up, tls: 'passthrough', sni: ['a.test'] }] },
      { name: 'b', tcp: [{ port: 443, upstreams: up, tls: 'passthrough', sni: ['b.test'] }] },
    ]);
    const ports = tcpPorts(tcp);
    expect(ports).toEqual(
      new Map([
        [1883, 'mq'],
        [443, SHARED],
      ]),
    );
    const p = parseStreamLine(
      '192.0.2.7 [2026-12-07T15:00:00+00:00] TCP 1883 200 120 40 3.250 "10.0.0.1:1883"',
      'local',
      ports,
    );
    expect(p?.record).toMatchObject({
      service: 'mq',
      route: '1883',
      status: 200,
      duration_ms: 3250,
      bytes_in: 40,
      bytes_out: 120,
      upstream: '10.0.0.1:1883',
    });
    expect(parseStreamLine('192.0.2.7 [x] TCP 9 502 0 0 0.001 "-"', 'local', ports)?.record).toMatchObject({
      service: null,
      upstream: null,
    });
    expect(parseStreamLine('not a stream line', 'local', ports)).toBeUndefined();
  });
});
