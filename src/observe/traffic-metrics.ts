import type { TrafficCountersWire, TrafficSeries } from './traffic-schema.js';
import type { ParsedLine } from './access-log-parse.js';
import type { NginxConnections } from './traffic-connections.js';

/**
 * Traffic counted from one edge's access log: per service and route, requests by status class,
 * request and upstream latency histograms, bytes in and out, failed upstream attempts and retries.
 * Never by path or client: the series are bounded by the number of routes, and capped (`cap`
 * series a node; the rest are counted together under OTHER). The control plane keeps one of these
 * per edge: its own nginx's, counted here, and each remote edge's, replaced by the edge's
 * cumulative figures (TrafficCounters.merge).
 */

/** Label values that no service or route has (service names are slugs, paths start with "/"). */
export const OTHER = '_other';
export const NONE = '_none';
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'other'] as const;
/** Latency buckets, seconds (request and upstream). */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;
/** Series per node unless told otherwise: 1,000 routes each with their own. */
export const DEFAULT_SERIES_CAP = 1000;
export type { TrafficCountersWire, TrafficSeries } from './traffic-schema.js';

interface Series extends TrafficSeries {
  /** The counters' change number when this series last changed. */
  seq: number;
}

function emptySeries(service: string, route: string): Series {
  return {
    service,
    route,
    requests: STATUS_CLASSES.map(() => 0),
    duration: new Array<number>(DURATION_BUCKETS.length + 1).fill(0),
    duration_sum: 0,
    upstream: new Array<number>(DURATION_BUCKETS.length + 1).fill(0),
    upstream_sum: 0,
    bytes_in: 0,
    bytes_out: 0,
    failures: 0,
    retries: 0,
    seq: 0,
  };
}

export function statusClass(status: number): number {
  const c = Math.floor(status / 100);
  return c >= 1 && c <= 5 ? c - 1 : 5;
}

function bucketOf(seconds: number): number {
  let i = 0;
  while (i < DURATION_BUCKETS.length && seconds > (DURATION_BUCKETS[i] as number)) i++;
  return i;
}

export class TrafficCounters {
  private readonly series = new Map<string, Series>();
  /** Lines read and counted, lines that were not gh_main's, records the sink could not keep. */
  lines = 0;
  unparsed = 0;
  dropped = 0;
  /** nginx's client connections when last read (traffic-connections.ts). */
  connections: NginxConnections | undefined;
  private changes = 0;

  constructor(
    /** Series beyond this many (service, route) pairs are counted under OTHER. */
    readonly cap = DEFAULT_SERIES_CAP,
    public epoch = Date.now(),
  ) {}

  get size(): number {
    return this.series.size;
  }

  /** Counts a parsed line. */
  add(p: ParsedLine): void {
    const r = p.record;
    const s = this.seriesFor(r.service ?? NONE, r.route ?? NONE);
    (s.requests[statusClass(r.status)] as number)++;
    const sec = r.duration_ms / 1000;
    (s.duration[bucketOf(sec)] as number)++;
    s.duration_sum += sec;
    if (r.upstream_ms !== null) {
      const up = r.upstream_ms / 1000;
      (s.upstream[bucketOf(up)] as number)++;
      s.upstream_sum += up;
    }
    s.bytes_in += r.bytes_in;
    s.bytes_out += r.bytes_out;
    s.failures += p.failures;
    if (p.attempts > 1) s.retries += p.attempts - 1;
    s.seq = ++this.changes;
    this.lines++;
  }

  /** A line that was not one of the main log's. */
  addUnparsed(): void {
    this.unparsed++;
    this.changes++;
  }

  addDropped(n: number): void {
    this.dropped += n;
    this.changes++;
  }

  private seriesFor(service: string, route: string): Series {
    const key = `${service}\n${route}`;
    let s = this.series.get(key);
    if (s) return s;
    if (this.series.size >= this.cap && service !== NONE) {
      const other = `${OTHER}\n${OTHER}`;
      s = this.series.get(other);
      if (!s) this.series.set(other, (s = emptySeries(OTHER, OTHER)));
      return s;
    }
    this.series.set(key, (s = emptySeries(service, route)));
    return s;
  }

  /** The change number now: wire(since) of it later names what changed after now. */
  get seq(): number {
    return this.changes;
  }

  /** The counters for the wire: the series changed after change number `since` (0: all). */
  wire(since = 0): TrafficCountersWire {
    const series: TrafficSeries[] = [];
    for (const s of this.series.values()) {
      if (s.seq <= since) continue;
      series.push({
        service: s.service,
        route: s.route,
        requests: [...s.requests],
        duration: [...s.duration],
        duration_sum: s.duration_sum,
        upstream: [...s.upstream],
        upstream_sum: s.upstream_sum,
        bytes_in: s.bytes_in,
        bytes_out: s.bytes_out,
        failures: s.failures,
        retries: s.retries,
      });
    }
    return {
      epoch: this.epoch,
      lines: this.lines,
      unparsed: this.unparsed,
      dropped: this.dropped,
      series,
      ...(this.connections ? { connections: { ...this.connections } } : {}),
    };
  }

  /**
   * A remote edge's counters (validated): its series replace what was held for them; another
   * epoch (the edge restarted) starts from nothing. New series beyond the cap are not taken.
   */
  merge(w: TrafficCountersWire): void {
    if (w.epoch !== this.epoch) {
      this.series.clear();
      this.epoch = w.epoch;
    }
    this.lines = w.lines;
    this.unparsed = w.unparsed;
    this.dropped = w.dropped;
    if (w.connections) this.connections = w.connections;
    for (const s of w.series) {
      const key = `${s.service}\n${s.route}`;
      if (!this.series.has(key) && this.series.size >= this.cap + 2) continue;
      this.series.set(key, { ...s, seq: ++this.changes });
    }
  }

  /** Every series (for the exporter). */
  all(): IterableIterator<Readonly<TrafficSeries>> {
    return this.series.values();
  }
}
