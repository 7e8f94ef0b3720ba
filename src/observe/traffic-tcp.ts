import { join } from 'node:path';
import type { EdgeConfig } from '../compile/edge-config.js';
import type { ParsedLine } from './access-log-parse.js';
import { LogTail } from './access-log-reader.js';
import { TrafficCounters } from './traffic-metrics.js';

/** A port that several services share (TLS passthrough by SNI): the log does not say which. */
export const SHARED = '_shared';

/**
 * TCP (and UDP) routes: nginx's stream log (src/drivers/nginx/stream.ts, `gh_stream`), one line a
 * finished session, counted per route (its port) in a TrafficCounters of their own: sessions by
 * status class (nginx's stream status: 200 ok, 4xx/5xx refused or failed), session duration, bytes
 * received from and sent to the client. No records: the access log store is for HTTP requests.
 */
const LINE = /^(\S+) \[[^\]]*\] (TCP|UDP) (\d+) (\d{3}) (\d+) (\d+) ([\d.]+) "([^"]*)"$/;

export function parseStreamLine(
  line: string,
  node: string,
  ports: ReadonlyMap<number, string>,
): ParsedLine | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  const port = Number(m[3]);
  const upstream = (m[8] ?? '').split(', ').pop() ?? '';
  return {
    record: {
      time: Date.now(),
      node,
      host: '',
      service: ports.get(port) ?? null,
      route: String(port),
      method: m[2] as string,
      path: '',
      status: Number(m[4]),
      duration_ms: Number(m[7]) * 1000,
      upstream: upstream && upstream !== '-' ? upstream.slice(0, 256) : null,
      upstream_ms: null,
      bytes_in: Number(m[6]),
      bytes_out: Number(m[5]),
      client: (m[1] as string).slice(0, 64),
      user: null,
      country: null,
    },
    attempts: 0,
    failures: 0,
  };
}

/** Port → service, from the config's TCP listeners (SHARED where several share the port). */
export function tcpPorts(cfg: EdgeConfig | undefined): Map<number, string> {
  const ports = new Map<number, string>();
  for (const t of cfg?.tcp ?? []) {
    const had = ports.get(t.port);
    ports.set(t.port, had === undefined || had === t.service ? t.service : SHARED);
  }
  return ports;
}

/** Follows an nginx's stream log into `counters`. */
export class TcpTraffic {
  readonly counters = new TrafficCounters();
  private readonly tail: LogTail;
  private ports = new Map<number, string>();
  private cfg: EdgeConfig | undefined;

  constructor(
    prefix: string,
    private readonly node: string,
    private readonly config: () => EdgeConfig | undefined,
  ) {
    this.tail = new LogTail(join(prefix, 'logs', 'stream.log'), (lines) => this.take(lines));
  }

  start(): Promise<void> {
    return this.tail.start();
  }

  stop(): Promise<void> {
    return this.tail.stop();
  }

  /** Reads what the log holds now (tests). */
  poll(): Promise<void> {
    return this.tail.poll();
  }

  private take(lines: string[]): void {
    const cfg = this.config();
    if (cfg !== this.cfg) {
      this.cfg = cfg;
      this.ports = tcpPorts(cfg);
    }
    for (const line of lines) {
      const p = parseStreamLine(line, this.node, this.ports);
      if (p) this.counters.add(p);
      else if (line) this.counters.addUnparsed();
    }
  }
}
