import type { AccessLogRecord } from '../model/access-log.js';
import type { RouteResolver } from '../edge/access-log-routes.js';

/**
 * One line of nginx's main access log (log_format gh_main, src/drivers/nginx/access-logs.ts: a
 * JSON object a line) → an AccessLogRecord, plus what the traffic metrics count that the record
 * does not hold (the upstream's attempts). Every string is cut to the record schema's bounds, so a
 * record made here always passes accessLogRecordSchema (a remote edge's batch is refused whole if
 * one record does not).
 */
export interface ParsedLine {
  record: AccessLogRecord;
  /** Attempts at an upstream peer ($upstream_status has one entry per attempt). */
  attempts: number;
  /** Attempts that failed: the peer refused, broke off or timed out (nginx's own 502/504). */
  failures: number;
}

interface RawLine {
  time?: unknown;
  host?: unknown;
  method?: unknown;
  uri?: unknown;
  status?: unknown;
  request_time?: unknown;
  upstream_addr?: unknown;
  upstream_status?: unknown;
  upstream_response_time?: unknown;
  request_length?: unknown;
  bytes_sent?: unknown;
  remote_addr?: unknown;
  pool?: unknown;
  user?: unknown;
  country?: unknown;
}

/** A line, or undefined when it is not one of gh_main's (a line from an older format, garbage). */
export function parseAccessLine(line: string, node: string, routes: RouteResolver): ParsedLine | undefined {
  if (line.length < 2 || line.charCodeAt(0) !== 123 /* { */) return undefined;
  let raw: RawLine;
  try {
    raw = JSON.parse(line) as RawLine;
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const time = num(raw.time);
  const status = num(raw.status);
  if (time === undefined || status === undefined) return undefined;
  // nginx's $host is lowercase already.
  const host = str(raw.host).slice(0, 253);
  const path = str(raw.uri).slice(0, 2048);
  const { service, route } = routes.resolve(host, path, str(raw.pool));
  const addrs = list(raw.upstream_addr);
  const statuses = list(raw.upstream_status);
  const times = list(raw.upstream_response_time);
  const lastAddr = addrs[addrs.length - 1];
  const lastTime = num(times[times.length - 1]);
  let failures = 0;
  for (const s of statuses) if (s === '502' || s === '504') failures++;
  const user = str(raw.user);
  return {
    record: {
      time: Math.max(0, Math.round(time * 1000)),
      node,
      host,
      service,
      route,
      method: str(raw.method).slice(0, 16),
      path,
      status: Math.min(999, Math.max(0, Math.trunc(status))),
      duration_ms: Math.max(0, ms(num(raw.request_time) ?? 0)),
      upstream: lastAddr ? lastAddr.slice(0, 256) : null,
      upstream_ms: lastAddr && lastTime !== undefined ? Math.max(0, ms(lastTime)) : null,
      bytes_in: int(raw.request_length),
      bytes_out: int(raw.bytes_sent),
      client: str(raw.remote_addr).slice(0, 64),
      user: user ? user.slice(0, 256) : null,
      // Two capitals or nothing: "-" (not in the database) and anything else are no country.
      country: /^[A-Z]{2}$/.test(str(raw.country)) ? str(raw.country) : null,
    },
    attempts: statuses.length,
    failures,
  };
}

function str(v: unknown): string {
  // nginx writes "-" for a variable with no value in some versions; "" in others.
  return typeof v === 'string' && v !== '-' ? v : '';
}

function num(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

function int(v: unknown): number {
  const n = num(v);
  return n === undefined ? 0 : Math.max(0, Math.trunc(n));
}

/** Seconds with millisecond resolution → milliseconds (no float noise such as 2.0000000000000004). */
function ms(seconds: number): number {
  return Math.round(seconds * 1000 * 1000) / 1000;
}

/**
 * nginx's lists of attempts: ", " between attempts, " : " between upstream groups (an internal
 * redirect); "-" for an attempt with no answer time.
 */
function list(v: unknown): string[] {
  const s = str(v);
  if (!s) return [];
  // Most requests: one attempt.
  if (s.indexOf(', ') < 0 && s.indexOf(' : ') < 0) return [s];
  return s.split(/, | : /).filter((x) => x !== '');
}
