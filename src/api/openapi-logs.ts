import { op, query, read } from './openapi-build.js';

/** The access log's filters (GET /logs and /logs/stream). */
const filters = [
  query('service', 'string', 'one service'),
  query('status', 'string', 'a status class (5xx, 4xx) or code (404); several comma-separated (401,403,429)'),
  query('client', 'string', 'one client address'),
  query('user', 'string', 'the signed-in user of a guarded route'),
  query(
    'since',
    'string',
    'milliseconds since the epoch, an ISO 8601 time, or a duration ago (15m, 24h, 7d)',
  ),
  query('until', 'string', 'as since'),
];

/** Access logs and analytics (docs/logs.md). */
export function logPaths(): Record<string, object> {
  const stream = op({
    summary:
      "Live tail (server-sent events): `hello`, then `logs` events ({records}) with each stored batch's records that pass the same filters as GET /logs",
    parameters: filters,
    answers: {},
  }) as { responses: Record<string, object> };
  stream.responses['200'] = {
    description: 'An event stream (text/event-stream) that stays open',
    content: { 'text/event-stream': { schema: { type: 'string' } } },
  };
  return {
    '/logs': {
      get: read(
        'Access log records from every edge, newest first (by arrival), filtered; `next` is the `before` of the next page',
        ['Records', 'AccessLogList'],
        [
          ...filters,
          query('limit', 'integer', '1 to 1000, default 100'),
          query('before', 'integer', "records older than this id (the previous answer's next)"),
        ],
      ),
    },
    '/logs/stream': { get: stream },
    '/analytics': {
      get: read(
        'Requests, error rate (5xx share), denied (401/403/429), p50/p95 latency, top paths, clients and denied addresses, and a time series, over 1h, 24h or 7d, overall or for one service',
        ['Figures', 'Analytics'],
        [query('window', 'string', '1h, 24h (default) or 7d'), query('service', 'string', 'one service')],
      ),
    },
  };
}
