import { z } from 'zod';
import type { AccessLogRecord } from '../model/access-log.js';

/**
 * Filters of the log page, the API (GET /api/v1/logs, /logs/stream) and the CLI: one schema, the
 * same meaning whether the store answers them in SQL or the live tail checks a record in memory.
 */

/** A status class (`5xx`) or one code (`404`); several comma-separated (`401,403,429`). */
const STATUS = /^(?:[1-5]xx|[1-9][0-9]{2})(?:,(?:[1-5]xx|[1-9][0-9]{2}))*$/;

/** A point in time: milliseconds since the epoch, an ISO 8601 date, or a duration ago (`15m`, `24h`, `7d`). */
const instant = z
  .string()
  .max(40)
  .refine((v) => parseInstant(v, 0) !== undefined, {
    error:
      'milliseconds since the epoch, an ISO 8601 time (2026-12-07T10:00:00Z) or a duration ago (15m, 24h, 7d)',
  });

const UNIT = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `instant` as milliseconds since the epoch (relative to `now`); undefined when it is none. */
export function parseInstant(v: string, now: number): number | undefined {
  if (/^[0-9]{1,15}$/.test(v)) return Number(v);
  const ago = /^([0-9]{1,6})(s|m|h|d)$/.exec(v);
  if (ago) return now - Number(ago[1]) * UNIT[ago[2] as keyof typeof UNIT];
  if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}/.test(v)) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

export const logFilterSchema = z.strictObject({
  service: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,128}$/, 'a service name')
    .optional(),
  status: z
    .string()
    .regex(STATUS, 'a status class (5xx, 4xx) or code (404), several comma-separated')
    .optional(),
  client: z
    .string()
    .regex(/^[0-9A-Fa-f.:]{1,64}$/, 'a client address (IPv4 or IPv6)')
    .optional(),
  user: z.string().min(1).max(256).optional(),
  since: instant.optional(),
  until: instant.optional(),
});
export type LogFilterInput = z.output<typeof logFilterSchema>;

export const logQuerySchema = logFilterSchema.extend({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  /** Records older than this id (the next page: the previous answer's `next`). */
  before: z.coerce.number().int().min(1).optional(),
});
export type LogQueryInput = z.output<typeof logQuerySchema>;

/** A filter with its times resolved (milliseconds since the epoch) and its statuses as ranges. */
export interface LogFilter {
  service?: string;
  /** Inclusive [from, to] status ranges, any of which matches. */
  status?: [number, number][];
  client?: string;
  user?: string;
  since?: number;
  until?: number;
}

export function statusRanges(s: string): [number, number][] {
  return s.split(',').map((part): [number, number] => {
    if (part.endsWith('xx')) {
      const c = Number(part[0]) * 100;
      return [c, c + 99];
    }
    return [Number(part), Number(part)];
  });
}

/** Resolves a validated filter at `now`. */
export function resolveFilter(q: LogFilterInput, now = Date.now()): LogFilter {
  const f: LogFilter = {};
  if (q.service !== undefined) f.service = q.service;
  if (q.status !== undefined) f.status = statusRanges(q.status);
  if (q.client !== undefined) f.client = q.client;
  if (q.user !== undefined) f.user = q.user;
  if (q.since !== undefined) f.since = parseInstant(q.since, now) as number;
  if (q.until !== undefined) f.until = parseInstant(q.until, now) as number;
  return f;
}

/** Whether `r` passes `f` (the live tail; the same as `whereOf` in SQL). */
export function matches(f: LogFilter, r: AccessLogRecord): boolean {
  if (f.service !== undefined && r.service !== f.service) return false;
  if (f.status && !f.status.some(([a, b]) => r.status >= a && r.status <= b)) return false;
  if (f.client !== undefined && r.client !== f.client) return false;
  if (f.user !== undefined && r.user !== f.user) return false;
  if (f.since !== undefined && r.time < f.since) return false;
  if (f.until !== undefined && r.time > f.until) return false;
  return true;
}

/** A WHERE clause (or '') and its parameters, for the access_log table. */
export interface Where {
  sql: string;
  params: (string | number)[];
}

export function whereOf(f: LogFilter, extra: string[] = [], extraParams: (string | number)[] = []): Where {
  const parts: string[] = [];
  const params: (string | number)[] = [];
  if (f.service !== undefined) {
    parts.push('service = ?');
    params.push(f.service);
  }
  if (f.status) {
    parts.push(`(${f.status.map(() => 'status between ? and ?').join(' or ')})`);
    for (const [a, b] of f.status) params.push(a, b);
  }
  if (f.client !== undefined) {
    parts.push('client = ?');
    params.push(f.client);
  }
  if (f.user !== undefined) {
    parts.push('"user" = ?');
    params.push(f.user);
  }
  if (f.since !== undefined) {
    parts.push('time >= ?');
    params.push(f.since);
  }
  if (f.until !== undefined) {
    parts.push('time <= ?');
    params.push(f.until);
  }
  parts.push(...extra);
  params.push(...extraParams);
  return { sql: parts.length ? ` where ${parts.join(' and ')}` : '', params };
}
