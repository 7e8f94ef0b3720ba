import { z } from 'zod';

/**
 * The access log (docs/logs.md): one record as GET /logs and the live tail answer it (the fields
 * of src/model/access-log.ts, and the store's id: the cursor).
 */
export const accessLogEntryView = z.strictObject({
  id: z.number(),
  time: z.number(),
  node: z.string(),
  host: z.string(),
  service: z.string().nullable(),
  route: z.string().nullable(),
  method: z.string(),
  path: z.string(),
  status: z.number(),
  duration_ms: z.number(),
  upstream: z.string().nullable(),
  upstream_ms: z.number().nullable(),
  bytes_in: z.number(),
  bytes_out: z.number(),
  client: z.string(),
  user: z.string().nullable(),
  country: z.string().nullable(),
});

/** GET /logs: newest first; `next` is the `before` of the next page (null: no more). */
export const accessLogListView = z.strictObject({
  records: z.array(accessLogEntryView),
  next: z.number().nullable(),
});

/** GET /logs/stream (server-sent events): each event's data, by event name. */
export const logStreamEventViews = {
  /** First, once. */
  hello: z.strictObject({ ok: z.literal(true) }),
  /** Records stored that pass the filters, in one batch. */
  logs: z.strictObject({ records: z.array(accessLogEntryView) }),
};

const count = z.number();
/** GET /analytics: one window (1h, 24h, 7d), overall or one service's. */
export const analyticsView = z.strictObject({
  window: z.enum(['1h', '24h', '7d']),
  service: z.string().nullable(),
  /** The window: [since, until) in milliseconds since the epoch. */
  since: z.number(),
  until: z.number(),
  requests: count,
  errors_5xx: count,
  errors_4xx: count,
  /** 5xx answers' share of requests, 0..1. */
  error_rate: z.number(),
  /** 401, 403 and 429 answers. */
  denied: count,
  p50_ms: z.number().nullable(),
  p95_ms: z.number().nullable(),
  top_paths: z.array(
    z.strictObject({ host: z.string(), path: z.string(), requests: count, errors_5xx: count }),
  ),
  top_clients: z.array(z.strictObject({ client: z.string(), requests: count, errors_5xx: count })),
  top_denied: z.array(z.strictObject({ client: z.string(), requests: count })),
  /** By the client's country (GeoIP), with how many were denied; empty without a database. */
  top_countries: z.array(z.strictObject({ country: z.string(), requests: count, denied: count })),
  series: z.array(
    z.strictObject({
      time: z.number(),
      requests: count,
      errors_5xx: count,
      errors_4xx: count,
      avg_ms: z.number().nullable(),
    }),
  ),
  bucket_ms: z.number(),
});

export type AccessLogEntry = z.infer<typeof accessLogEntryView>;
export type AccessLogList = z.infer<typeof accessLogListView>;
export type AnalyticsView = z.infer<typeof analyticsView>;
