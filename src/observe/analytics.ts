import { z } from 'zod';
import type { AccessLogStore } from './access-log-store.js';
import { whereOf, type LogFilter } from './access-log-query.js';

/** GET /api/v1/analytics's query: one schema. */
export const analyticsQuerySchema = z.strictObject({
  window: z.enum(['1h', '24h', '7d'], { error: '1h, 24h or 7d' }).default('24h'),
  service: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,128}$/, 'a service name')
    .optional(),
});
export type AnalyticsQuery = z.output<typeof analyticsQuerySchema>;

/** Each window's length and the width of its time series' buckets. */
export const WINDOWS = {
  '1h': { ms: 3_600_000, bucketMs: 60_000 },
  '24h': { ms: 86_400_000, bucketMs: 900_000 },
  '7d': { ms: 7 * 86_400_000, bucketMs: 3_600_000 },
} as const;

/** Statuses counted as denied: unauthenticated, forbidden, throttled. */
export const DENIED = [401, 403, 429] as const;
const TOP = 10;

export interface Analytics {
  window: '1h' | '24h' | '7d';
  service: string | null;
  since: number;
  until: number;
  requests: number;
  /** Server errors (5xx) and client errors (4xx), and their share of requests (0 when none). */
  errors_5xx: number;
  errors_4xx: number;
  error_rate: number;
  denied: number;
  /** Request duration percentiles in milliseconds (nearest rank); null with no requests. */
  p50_ms: number | null;
  p95_ms: number | null;
  top_paths: { host: string; path: string; requests: number; errors_5xx: number }[];
  top_clients: { client: string; requests: number; errors_5xx: number }[];
  top_denied: { client: string; requests: number }[];
  /** Requests by the client's country (GeoIP: setting geoip_db), with how many were denied. */
  top_countries: { country: string; requests: number; denied: number }[];
  /** One point per bucket, oldest first, empty buckets included. */
  series: { time: number; requests: number; errors_5xx: number; errors_4xx: number; avg_ms: number | null }[];
  bucket_ms: number;
}

/** The nearest-rank percentile's 0-based position among `n` sorted values. */
export function rankOffset(p: number, n: number): number {
  return Math.max(0, Math.ceil(p * n) - 1);
}

/** The nearest-rank percentile of the values a histogram counts (value → how many), null when empty. */
export function percentileOf(hist: readonly { v: number; n: number }[], p: number): number | null {
  const total = hist.reduce((a, h) => a + h.n, 0);
  if (total === 0) return null;
  const rank = rankOffset(p, total);
  let seen = 0;
  for (const h of [...hist].sort((x, y) => x.v - y.v)) {
    seen += h.n;
    if (seen > rank) return h.v;
  }
  return null;
}

/**
 * A window that holds more than this share of the stored time span is read by scanning the table:
 * through the time index, each row is a lookup of its own (measured: ~7× slower per row).
 */
const SCAN_SHARE = 0.1;

/**
 * Request counts, error rate, latency percentiles, tops and a time series over a window: five
 * passes over the window's rows on the store's query thread (the percentiles from a histogram of
 * durations: nginx gives them to the millisecond, so few distinct values and exact ranks).
 */
export async function analytics(
  store: AccessLogStore,
  q: AnalyticsQuery,
  now = Date.now(),
): Promise<Analytics> {
  const win = WINDOWS[q.window];
  const bucket = win.bucketMs;
  // Buckets aligned to the clock; the window starts at the first bucket's start.
  const end = Math.floor(now / bucket) * bucket + bucket;
  const since = end - win.ms;
  const filter: LogFilter = {
    since,
    until: end - 1,
    ...(q.service !== undefined ? { service: q.service } : {}),
  };
  const [span] = await store.query<{ lo: number | null; hi: number | null }>(
    'select min(time) as lo, max(time) as hi from access_log',
    [],
  );
  const lo = span?.lo ?? since;
  const hi = span?.hi ?? since;
  // One service's rows come through its (service, time) index; a large share of all, by a scan.
  const scan = q.service === undefined && hi > lo && (hi - Math.max(since, lo)) / (hi - lo) > SCAN_SHARE;
  const from = scan ? 'access_log not indexed' : 'access_log';
  const w = whereOf(filter);
  const e5 = 'sum(status >= 500 and status < 600)';
  const denied = `status in (${DENIED.join(',')})`;
  const [series, hist, paths, clients, deniedTop, countries] = await Promise.all([
    store.query<{ b: number; requests: number; e5: number; e4: number; d: number; avg: number | null }>(
      `select cast((time - ?) / ${bucket} as integer) as b, count(*) as requests, ${e5} as e5, sum(status >= 400 and status < 500) as e4, sum(${denied}) as d, avg(duration_ms) as avg from ${from}${w.sql} group by b`,
      [since, ...w.params],
    ),
    store.query<{ v: number; n: number }>(
      `select duration_ms as v, count(*) as n from ${from}${w.sql} group by duration_ms`,
      w.params,
    ),
    store.query<{ host: string; path: string; requests: number; errors_5xx: number }>(
      `select host, path, count(*) as requests, ${e5} as errors_5xx from ${from}${w.sql} group by host, path order by requests desc, host, path limit ${TOP}`,
      w.params,
    ),
    store.query<{ client: string; requests: number; errors_5xx: number }>(
      `select client, count(*) as requests, ${e5} as errors_5xx from ${from}${w.sql} group by client order by requests desc, client limit ${TOP}`,
      w.params,
    ),
    store.query<{ client: string; requests: number }>(
      `select client, count(*) as requests from ${from}${whereOf(filter, [denied]).sql} group by client order by requests desc, client limit ${TOP}`,
      w.params,
    ),
    store.query<{ country: string; requests: number; denied: number }>(
      `select country, count(*) as requests, sum(${denied}) as denied from ${from}${whereOf(filter, ['country is not null']).sql} group by country order by requests desc, country limit ${TOP}`,
      w.params,
    ),
  ]);
  const buckets = Math.round(win.ms / bucket);
  const points: Analytics['series'] = Array.from({ length: buckets }, (_, i) => ({
    time: since + i * bucket,
    requests: 0,
    errors_5xx: 0,
    errors_4xx: 0,
    avg_ms: null,
  }));
  const totals = { n: 0, e5: 0, e4: 0, d: 0 };
  for (const s of series) {
    const p = points[s.b];
    if (!p) continue;
    p.requests = s.requests;
    p.errors_5xx = s.e5;
    p.errors_4xx = s.e4;
    p.avg_ms = s.avg === null ? null : Math.round(s.avg * 10) / 10;
    totals.n += s.requests;
    totals.e5 += s.e5;
    totals.e4 += s.e4;
    totals.d += s.d;
  }
  return {
    window: q.window,
    service: q.service ?? null,
    since,
    until: end,
    requests: totals.n,
    errors_5xx: totals.e5,
    errors_4xx: totals.e4,
    error_rate: totals.n === 0 ? 0 : totals.e5 / totals.n,
    denied: totals.d,
    p50_ms: percentileOf(hist, 0.5),
    p95_ms: percentileOf(hist, 0.95),
    top_paths: paths,
    top_clients: clients,
    top_denied: deniedTop,
    top_countries: countries,
    series: points,
    bucket_ms: bucket,
  };
}
