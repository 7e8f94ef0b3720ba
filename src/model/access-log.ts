import { z } from 'zod';
import { ACCESS_LOG_BATCH_MAX } from './access-log-limits.js';

/**
 * One request as an edge's nginx logged it (docs/observability.md): the record that travels from
 * every edge to the control plane, is kept there with retention, filtered on the log page and
 * counted for analytics. Edges build it from nginx's access log; the control plane checks it with
 * this schema before it keeps it (a remote edge is not trusted to send well-formed records).
 *
 * `service`/`route` are Gatehouse's names (null when no service answered: the default server, an
 * unknown host); `path` is the path without its query string (queries may hold tokens).
 */
export const accessLogRecordSchema = z.strictObject({
  /** When nginx finished the request, milliseconds since the epoch. */
  time: z.number().int().nonnegative(),
  /** The node (edge) that served it: `local` for the control plane's own nginx. */
  node: z.string().min(1).max(64),
  host: z.string().max(253),
  service: z.string().max(128).nullable(),
  route: z.string().max(128).nullable(),
  method: z.string().max(16),
  path: z.string().max(2048),
  status: z.number().int().min(0).max(999),
  /** nginx's $request_time in milliseconds. */
  duration_ms: z.number().nonnegative(),
  /** The peer that answered last (host:port), null when none was asked. */
  upstream: z.string().max(256).nullable(),
  /** The upstream's answer time in milliseconds (the last attempt), null when none was asked. */
  upstream_ms: z.number().nonnegative().nullable(),
  bytes_in: z.number().int().nonnegative(),
  bytes_out: z.number().int().nonnegative(),
  client: z.string().max(64),
  /** The signed-in user of a guarded route, null otherwise. */
  user: z.string().max(256).nullable(),
  /** ISO 3166-1 alpha-2, when an edge knows it. */
  country: z
    .string()
    .regex(/^[A-Z]{2}$/)
    .nullable(),
});

export type AccessLogRecord = z.infer<typeof accessLogRecordSchema>;

export { ACCESS_LOG_BATCH_MAX };
export const accessLogBatchSchema = z.array(accessLogRecordSchema).max(ACCESS_LOG_BATCH_MAX);

/**
 * Where access log records go once an edge has read them. The control plane's log store
 * implements it; the local edge calls it directly, remote edges through the feed.
 */
export interface AccessLogSink {
  /** Keeps a batch (already validated). Resolves once it is stored. */
  ingest(records: readonly AccessLogRecord[]): Promise<void>;
  /**
   * The same batch as JSON (an array of records), for a sink that sends it on as JSON anyway (a
   * remote edge's sender): the reader's thread serializes it, the event loop only passes it on.
   */
  ingestJson?(json: string): Promise<void>;
}
