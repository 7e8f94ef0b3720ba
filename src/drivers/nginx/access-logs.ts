import { address, filePath, ident } from './escape.js';
import type { RenderEnv } from './env.js';
import { crowdsecLog } from './decisions.js';

/**
 * nginx's access logs. Every request goes to the main log (http level). The two logs written for a
 * few requests only, the security log (requests nginx refused itself) and the failure log (an
 * upstream refused, broke off or timed out), are not: their conditions would be evaluated for
 * every request. nginx logs a request with the access logs of the location it ends in, and these
 * requests end in Gatehouse's own pages (error_page), so those locations list the log they feed
 * (and the main log again: an access_log in a location replaces the inherited ones).
 *
 * One exception is on the common path: a request the Lua balancer retried on another peer after a
 * failed attempt may end well, in the route's location. The balancer marks it ($gh_upstream_failed,
 * pools-lua.ts); the http-level failure log reads that mark, a map of a constant (no $status, no
 * $upstream_status) while it is unset. An upstream that answers 502 or 504 itself (passed on to the
 * client as it is) is not a failed attempt: the route's location does not log it.
 */

/**
 * The main access log's format: one JSON object a line (escape=json), read by the edge's access
 * log reader (src/observe/access-log-reader.ts) into AccessLogRecord and the traffic metrics.
 * `uri` is the path without its query string (queries may hold tokens); `pool` is the route's pool
 * where a location names it ($gh_pool, pools.ts; empty in the fast lane, whose hosts the reader
 * maps to their service from the EdgeConfig); `user` the signed-in user of a guarded route or the
 * user a forward-auth server named (only when the config has such routes: $gh_user is declared
 * then, gate.ts and userVariable()). Numbers unquoted:
 * nginx always has them. Cost per request: docs/observability.md.
 */
export function mainLogFormat(logsUser: boolean, logsCountry = false): string[] {
  const fields = [
    '"time":$msec',
    '"host":"$host"',
    '"method":"$request_method"',
    '"uri":"$uri"',
    '"status":$status',
    '"request_time":$request_time',
    '"upstream_addr":"$upstream_addr"',
    '"upstream_status":"$upstream_status"',
    '"upstream_response_time":"$upstream_response_time"',
    '"request_length":$request_length',
    '"bytes_sent":$bytes_sent',
    '"remote_addr":"$remote_addr"',
    '"pool":"$gh_pool"',
    ...(logsUser ? ['"user":"$gh_user"'] : []),
    // From the GeoIP database (geoip.ts): "-" for an address it does not know.
    ...(logsCountry ? ['"country":"$gh_country"'] : []),
  ];
  return [
    // $gh_pool is set by `set` where a location names a pool; read where none does (the fast
    // lane, the portal) nginx would write a warning to the error log for every request (measured:
    // ~3k instructions and a write a request).
    'uninitialized_variable_warn off;',
    `log_format gh_main escape=json '{${fields.join(',')}}';`,
  ];
}

/**
 * The main access log's directive (every request), and CrowdSec's beside it when its decisions are
 * enforced (decisions.ts: its agent reads that one).
 */
export function mainLogs(env: RenderEnv): string[] {
  return [
    `access_log ${filePath(env.prefix)}/logs/access.log gh_main buffer=64k flush=1s;`,
    ...(env.crowdsecLog ? [crowdsecLog(env)] : []),
  ];
}

function failureTarget(env: RenderEnv): string | undefined {
  const t = env.upstreamLog;
  return t ? `syslog:server=${address(t.address)},nohostname,tag=${ident(t.tag)}` : undefined;
}

/**
 * Passive health, http level: the format, the conditions and the log of retried requests. One
 * syslog line per request in which an upstream was refused, broke off or timed out (nginx's 502/504
 * in $upstream_status, also "no live upstreams"), with the route's pool (the upstream block is
 * shared by all pools). Successful requests log nothing.
 */
export function failureLogHttp(env: RenderEnv): string[] {
  const target = failureTarget(env);
  if (!target) return [];
  return [
    // Set to 1 by the Lua balancer on a retry; otherwise 0 from a constant, at the cost of a lookup.
    'map "" $gh_upstream_failed {',
    '    default 0;',
    '}',
    // In the pages that answer for a failed upstream: a retried request, or a final 502/503/504
    // with a failed attempt in $upstream_status.
    'map $gh_upstream_failed $gh_upstream_failed_page {',
    '    default 1;',
    '    0 $gh_upstream_failed_status;',
    '}',
    'map $status $gh_upstream_failed_status {',
    '    default 0;',
    '    502 $gh_upstream_failed_any;',
    '    503 $gh_upstream_failed_any;',
    '    504 $gh_upstream_failed_any;',
    '}',
    'map $upstream_status $gh_upstream_failed_any {',
    '    default 0;',
    '    "~50[24]" 1;',
    '}',
    "log_format gh_upstream '$host|$upstream_addr|$upstream_status|$gh_pool';",
    `access_log ${target} gh_upstream if=$gh_upstream_failed;`,
    '',
  ];
}

/**
 * Logs of a location answering 502, 503 or 504 (offline and unavailable pages): the main log and
 * the failure log. None when there is no failure log (the inherited main log is the same).
 */
export function failureLogs(env: RenderEnv): string[] {
  const target = failureTarget(env);
  if (!target) return [];
  return [...mainLogs(env), `access_log ${target} gh_upstream if=$gh_upstream_failed_page;`];
}

/**
 * The security log's format and condition (http level): requests nginx refused itself (401, 403,
 * 429 with no upstream answer). Only with the gate, which reads the log.
 */
export function securityLogHttp(env: RenderEnv): string[] {
  if (!env.gate) return [];
  return [
    'map $status $gh_refused {',
    '    default 0;',
    '    401 $gh_refused_here;',
    '    403 $gh_refused_here;',
    '    429 $gh_refused_here;',
    '}',
    'map $upstream_status $gh_refused_here {',
    '    default 0;',
    '    "" 1;',
    '}',
    // The path without its query string: queries may hold tokens.
    `log_format gh_security '$msec $status $remote_addr "$host" "$uri"';`,
  ];
}

/**
 * Logs of a location answering refusals (403, 429, the sign-in 401s): the main log and the
 * security log. None without the gate.
 */
export function securityLogs(env: RenderEnv): string[] {
  if (!env.gate) return [];
  return [
    ...mainLogs(env),
    `access_log ${filePath(env.prefix)}/logs/security.log gh_security if=$gh_refused;`,
  ];
}

/** The logs of the pages answering with `status`. */
export function pageLogs(env: RenderEnv, status: number): string[] {
  if (status === 401 || status === 403 || status === 429) return securityLogs(env);
  if (status >= 502 && status <= 504) return failureLogs(env);
  return [];
}
