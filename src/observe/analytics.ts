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
  /** One point per bucket, oldest first, empty buckets included. */
  series: { time: number; requests: number; errors_5xx: number; errors_4xx: number; avg_ms: number | null }[];
  bucket_ms: number;
}

/** The nearest-rank percentile's 0-based position among `n` sorted values. */
export function rankOffset(p: number, n: number): number {
  return Math.max(0, Math.ceil(p * n) - 1);
}

/** Request counts, error rate, latency percentiles, tops and a time series over a window. */
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
  const filter: LogFilter = { since, ...(q.service !== undefined ? { service: q.service } : {}) };
  const w = whereOf(filter);
  const denied = `status in (${DENIED.join(',')})`;
  const [totals] = await store.query<{ n: number; e5: number | null; e4: number | null; d: number | null }>(
    `select count(*) as n, sum(status >= 500 and status < 600) as e5, sum(status >= 400 and status < 500) as e4, sum(${denied}) as d from access_log${w.sql}`,
    w.params,
  );
  const n = totals?.n ?? 0;
  const pct = async (p: number): Promise<number | null> => {
    if (n === 0) return null;
    const [r] = await store.query<{ v: number }>(
      `select duration_ms as v from access_log${w.sql} order by duration_ms limit 1 offset ?`,
      [...w.params, rankOffset(p, n)],
    );
    return r ? r.v : null;
  };
  const e5 = 'sum(status >= 500 and status < 600)';
  const [p50, p95, paths, clients, deniedTop, series] = await Promise.all([
    pct(0.5),
    pct(0.95),
    store.query<{ host: string; path: string; requests: number; errors_5xx: number }>(
      `select host, path, count(*) as requests, ${e5} as errors_5xx from access_log${w.sql} group by host, path order by requests desc, host, path limit ${TOP}`,
      w.params,
    ),
    store.query<{ client: string; requests: number; errors_5xx: number }>(
      `select client, count(*) as requests, ${e5} as errors_5xx from access_log${w.sql} group by client order by requests desc, client limit ${TOP}`,
      w.params,
    ),
    store.query<{ client: string; requests: number }>(
      `select client, count(*) as requests from access_log${whereOf(filter, [denied]).sql} group by client order by requests desc, client limit ${TOP}`,
      w.params,
    ),
    store.query<{ b: number; requests: number; e5: number; e4: number; avg: number | null }>(
      `select cast((time - ?) / ${bucket} as integer) as b, count(*) as requests, ${e5} as e5, sum(status >= 400 and status < 500) as e4, avg(duration_ms) as avg from access_log${w.sql} group by b`,
      [since, ...w.params],
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
  for (const s of series) {
    const p = points[s.b];
    if (!p) continue;
    p.requests = s.requests;
    p.errors_5xx = s.e5;
    p.errors_4xx = s.e4;
    p.avg_ms = s.avg === null ? null : Math.round(s.avg * 10) / 10;
  }
  const e5n = totals?.e5 ?? 0;
  return {
    window: q.window,
    service: q.service ?? null,
    since,
    until: end,
    requests: n,
    errors_5xx: e5n,
    errors_4xx: totals?.e4 ?? 0,
    error_rate: n === 0 ? 0 : e5n / n,
    denied: totals?.d ?? 0,
    p50_ms: await p50,
    p95_ms: await p95,
    top_paths: paths,
    top_clients: clients,
    top_denied: deniedTop,
    series: points,
    bucket_ms: bucket,
  };
}
