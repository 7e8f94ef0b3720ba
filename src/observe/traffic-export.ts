import type { Metric, Registry } from 'prom-client';
import type { NginxConnections } from './traffic-connections.js';
import {
  DEFAULT_SERIES_CAP,
  DURATION_BUCKETS,
  NONE,
  STATUS_CLASSES,
  TrafficCounters,
  type TrafficSeries,
} from './traffic-metrics.js';

/**
 * The traffic metrics of every node in a prom-client registry: the control plane's /metrics
 * (node "local" for its own nginx, each remote edge by its name) and an edge's own metrics
 * endpoint (node "local"). The figures live in TrafficCounters (one per node); these metric
 * families read them at scrape time, so counting a request is a few additions, not a label lookup
 * in prom-client per metric.
 */
export class TrafficMetrics {
  private readonly nodes = new Map<string, TrafficCounters>();
  /** TCP routes' sessions (traffic-tcp.ts), by node likewise. */
  private readonly tcp = new Map<string, TrafficCounters>();

  constructor(
    registry: Registry,
    private readonly cap = DEFAULT_SERIES_CAP,
  ) {
    for (const f of families(() => this.nodes)) registry.registerMetric(f);
    for (const f of tcpFamilies(() => this.tcp)) registry.registerMetric(f);
  }

  /** The TCP counters of `name`, made on first use. */
  tcpNode(name: string): TrafficCounters {
    let c = this.tcp.get(name);
    if (!c) this.tcp.set(name, (c = new TrafficCounters(this.cap, 0)));
    return c;
  }

  setTcp(name: string, counters: TrafficCounters): void {
    this.tcp.set(name, counters);
  }

  /** The counters of `node`, made on first use. */
  node(name: string): TrafficCounters {
    let c = this.nodes.get(name);
    if (!c) this.nodes.set(name, (c = new TrafficCounters(this.cap, 0)));
    return c;
  }

  /** Puts `counters` in as `name`'s (the local edge's own). */
  set(name: string, counters: TrafficCounters): void {
    this.nodes.set(name, counters);
  }

  /** A node removed: its series go. */
  forget(name: string): void {
    this.nodes.delete(name);
    this.tcp.delete(name);
  }

  /**
   * Requests and 5xx answers per service, all nodes and routes together, since each node's
   * counters began (requests no service answered are left out).
   */
  totalsByService(): Map<string, { requests: number; errors: number }> {
    const out = new Map<string, { requests: number; errors: number }>();
    const fivexx = STATUS_CLASSES.indexOf('5xx');
    for (const c of this.nodes.values())
      for (const s of c.all()) {
        if (s.service === NONE) continue;
        const t = out.get(s.service) ?? { requests: 0, errors: 0 };
        for (const n of s.requests) t.requests += n;
        t.errors += s.requests[fivexx] ?? 0;
        out.set(s.service, t);
      }
    return out;
  }

  /** Only these nodes' series stay (the others were removed). */
  keepOnly(names: Iterable<string>): void {
    const keep = new Set(names);
    for (const n of [...this.nodes.keys(), ...this.tcp.keys()]) if (!keep.has(n)) this.forget(n);
  }
}

type Value = { labels: Record<string, string | number>; value: number; metricName?: string };
type Nodes = () => ReadonlyMap<string, TrafficCounters>;

/** A metric family whose samples are made at scrape time (prom-client formats them). */
function family(
  name: string,
  help: string,
  type: 'counter' | 'histogram' | 'gauge',
  values: (nodes: ReadonlyMap<string, TrafficCounters>) => Value[],
  nodes: Nodes,
): Metric {
  const m = {
    name,
    help,
    type,
    aggregator: 'sum',
    get: () => Promise.resolve({ name, help, type, aggregator: 'sum', values: values(nodes()) }),
    reset: () => undefined,
  };
  // prom-client's registry takes any object of this shape (its own metrics are such objects).
  return m as unknown as Metric;
}

function perSeries(
  nodes: ReadonlyMap<string, TrafficCounters>,
  fn: (labels: { node: string; service: string; route: string }, s: Readonly<TrafficSeries>) => Value[],
): Value[] {
  const out: Value[] = [];
  for (const [node, c] of nodes)
    for (const s of c.all()) for (const v of fn({ node, service: s.service, route: s.route }, s)) out.push(v);
  return out;
}

function histogram(name: string, labels: Record<string, string>, buckets: number[], sum: number): Value[] {
  const out: Value[] = [];
  let cumulative = 0;
  DURATION_BUCKETS.forEach((le, i) => {
    cumulative += buckets[i] ?? 0;
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: cumulative });
  });
  cumulative += buckets[DURATION_BUCKETS.length] ?? 0;
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: cumulative });
  out.push({ metricName: `${name}_sum`, labels, value: sum });
  out.push({ metricName: `${name}_count`, labels, value: cumulative });
  return out;
}

/** Metric names: docs/observability.md. */
export const TRAFFIC_METRICS = {
  requests: 'gatehouse_http_requests_total',
  duration: 'gatehouse_http_request_duration_seconds',
  upstream: 'gatehouse_http_upstream_duration_seconds',
  bytesIn: 'gatehouse_http_request_bytes_total',
  bytesOut: 'gatehouse_http_response_bytes_total',
  failures: 'gatehouse_http_upstream_failures_total',
  retries: 'gatehouse_http_upstream_retries_total',
  lines: 'gatehouse_access_log_lines_total',
  unparsed: 'gatehouse_access_log_unparsed_lines_total',
  dropped: 'gatehouse_access_log_dropped_records_total',
  connections: 'gatehouse_nginx_connections',
} as const;

function families(nodes: Nodes): Metric[] {
  const N = TRAFFIC_METRICS;
  const counter = (name: string, help: string, pick: (s: Readonly<TrafficSeries>) => number) =>
    seriesCounter(name, help, nodes, pick);
  const perNode = (name: string, help: string, pick: (c: TrafficCounters) => number) =>
    family(
      name,
      help,
      'counter',
      (ns) => [...ns].map(([node, c]) => ({ labels: { node }, value: pick(c) })),
      nodes,
    );
  return [
    byStatusClass(
      N.requests,
      'HTTP requests by service, route and status class, counted from the access log of each node (node "local": this machine)',
      nodes,
    ),
    durations(
      N.duration,
      'HTTP request duration as nginx measured it (first byte read to last byte sent), by service and route',
      nodes,
      (s) => [s.duration, s.duration_sum],
    ),
    durations(
      N.upstream,
      "Upstream answer time (the last attempt's), by service and route; requests no upstream answered are not in it",
      nodes,
      (s) => [s.upstream, s.upstream_sum],
    ),
    counter(
      N.bytesIn,
      'Bytes received from clients (request line, headers and body), by service and route',
      (s) => s.bytes_in,
    ),
    counter(N.bytesOut, 'Bytes sent to clients, by service and route', (s) => s.bytes_out),
    counter(
      N.failures,
      'Upstream attempts that failed (refused, broken off, timed out: nginx 502/504), by service and route',
      (s) => s.failures,
    ),
    counter(
      N.retries,
      'Requests sent again to another upstream server after a failed attempt',
      (s) => s.retries,
    ),
    family(
      N.connections,
      'Client connections of nginx now (stub_status, read every 5 s): active (all open), and reading, writing, waiting (idle keep-alive)',
      'gauge',
      (ns) =>
        [...ns].flatMap(([node, c]) => {
          const conn: NginxConnections | undefined = c.connections;
          if (!conn) return [];
          return (['active', 'reading', 'writing', 'waiting'] as const).map((state) => ({
            labels: { node, state },
            value: conn[state],
          }));
        }),
      nodes,
    ),
    perNode(N.lines, 'Access log lines read and counted', (c) => c.lines),
    perNode(
      N.unparsed,
      'Access log lines that were not in the expected format (not counted)',
      (c) => c.unparsed,
    ),
    perNode(
      N.dropped,
      'Access log records the log store could not take (counted in the metrics all the same)',
      (c) => c.dropped,
    ),
  ];
}

/** A counter per series: one value each. */
function seriesCounter(
  name: string,
  help: string,
  nodes: Nodes,
  pick: (s: Readonly<TrafficSeries>) => number,
): Metric {
  return family(
    name,
    help,
    'counter',
    (ns) => perSeries(ns, (labels, s) => [{ labels, value: pick(s) }]),
    nodes,
  );
}

/** A counter per series and status class (classes with no request left out). */
function byStatusClass(name: string, help: string, nodes: Nodes): Metric {
  return family(
    name,
    help,
    'counter',
    (ns) =>
      perSeries(ns, (labels, s) =>
        s.requests.flatMap((value, i) =>
          value > 0 ? [{ labels: { ...labels, status_class: STATUS_CLASSES[i] as string }, value }] : [],
        ),
      ),
    nodes,
  );
}

/** A histogram per series from its buckets and sum. */
function durations(
  name: string,
  help: string,
  nodes: Nodes,
  pick: (s: Readonly<TrafficSeries>) => [number[], number],
): Metric {
  return family(
    name,
    help,
    'histogram',
    (ns) =>
      perSeries(ns, (labels, s) => {
        const [buckets, sum] = pick(s);
        return histogram(name, labels, buckets, sum);
      }),
    nodes,
  );
}

/** TCP routes: `route` is the listening port; `service` `_shared` where services share it by SNI. */
export const TCP_METRICS = {
  sessions: 'gatehouse_tcp_sessions_total',
  duration: 'gatehouse_tcp_session_duration_seconds',
  received: 'gatehouse_tcp_received_bytes_total',
  sent: 'gatehouse_tcp_sent_bytes_total',
} as const;

function tcpFamilies(nodes: Nodes): Metric[] {
  const N = TCP_METRICS;
  const counter = (name: string, help: string, pick: (s: Readonly<TrafficSeries>) => number) =>
    seriesCounter(name, help, nodes, pick);
  return [
    byStatusClass(
      N.sessions,
      'TCP/UDP route sessions that ended, by service, route (its port) and status class (nginx: 200 ok; 4xx refused; 5xx upstream failed)',
      nodes,
    ),
    durations(N.duration, 'TCP/UDP route session duration, by service and route', nodes, (s) => [
      s.duration,
      s.duration_sum,
    ]),
    counter(N.received, 'Bytes received from TCP/UDP clients, by service and route', (s) => s.bytes_in),
    counter(N.sent, 'Bytes sent to TCP/UDP clients, by service and route', (s) => s.bytes_out),
  ];
}
