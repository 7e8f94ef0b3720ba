import { z } from 'zod';
import { DURATION_BUCKETS, STATUS_CLASSES } from './traffic-metrics.js';

/**
 * The traffic counters as an edge sends them (POST /edge/v1/access-logs), checked by the control
 * plane. Apart from traffic-metrics.ts so that the access log reader's thread, which counts but
 * never checks, does not load zod.
 */

/** The most series a remote edge may send at once (its cap, plus OTHER and NONE). */
export const WIRE_SERIES_MAX = 20_000;

const count = z.number().nonnegative().finite();
const buckets = z.array(count).length(DURATION_BUCKETS.length + 1);

/** One series as an edge sends it: cumulative since the edge's counters began (`epoch`). */
export const trafficSeriesSchema = z.strictObject({
  service: z.string().min(1).max(128),
  route: z.string().min(1).max(128),
  requests: z.array(count).length(STATUS_CLASSES.length),
  /** Per bucket (not cumulative), the last one past the largest bound. */
  duration: buckets,
  duration_sum: count,
  upstream: buckets,
  upstream_sum: count,
  bytes_in: count,
  bytes_out: count,
  failures: count,
  retries: count,
});

export type TrafficSeries = z.infer<typeof trafficSeriesSchema>;

/** An edge's counters (those that changed since its last report, or all). */
export const trafficCountersSchema = z.strictObject({
  /** When the edge's counters began (ms): another epoch means they started again from zero. */
  epoch: z.number().int().nonnegative(),
  lines: count,
  unparsed: count,
  dropped: count,
  series: z.array(trafficSeriesSchema).max(WIRE_SERIES_MAX),
  /** nginx's client connections when last read (stub_status). */
  connections: z.strictObject({ active: count, reading: count, writing: count, waiting: count }).optional(),
});

export type TrafficCountersWire = z.infer<typeof trafficCountersSchema>;
