import { Command } from 'commander';
import type { AccessLogEntry, AccessLogList, AnalyticsView } from '../../api/views/index.js';
import { logStreamEventViews } from '../../api/views/index.js';
import { cliContext } from '../context.js';
import { table } from '../format.js';

/** Control characters could forge lines or drive the terminal: shown as "?". */
// eslint-disable-next-line no-control-regex
const printable = (s: string): string => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');

/** One record as a line: time, node, status, method, host+path, duration, client, user, service. */
export function logLine(r: AccessLogEntry): string {
  const when = new Date(r.time)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
  const parts = [
    when,
    r.node,
    String(r.status),
    r.method,
    `${r.host}${r.path}`,
    `${Math.round(r.duration_ms)}ms`,
    r.client,
    r.user ?? '-',
    r.service ?? '-',
  ];
  return printable(parts.join('  '));
}

interface LogOptions {
  service?: string;
  status?: string;
  client?: string;
  user?: string;
  since?: string;
  until?: string;
  limit: string;
  follow?: boolean;
}

/** `gatehouse logs`: access log records from every edge, newest last; `--follow` tails them. */
export function logsCommand(): Command {
  return new Command('logs')
    .description('show access log records from every edge (newest last); --follow keeps printing new ones')
    .option('--service <name>', 'one service')
    .option('--status <s>', 'a status class (5xx, 4xx) or code (404); several comma-separated')
    .option('--client <address>', 'one client address')
    .option('--user <name>', 'the signed-in user of a guarded route')
    .option('--since <t>', 'a duration ago (15m, 24h, 7d), an ISO 8601 time or milliseconds since the epoch')
    .option('--until <t>', 'as --since')
    .option('-n, --limit <n>', 'how many records (1-1000)', '50')
    .option('-f, --follow', 'keep printing records as they arrive')
    .action(async (o: LogOptions, c: Command) => {
      const ctx = cliContext(c);
      const filters: Record<string, string> = {};
      for (const k of ['service', 'status', 'client', 'user', 'since', 'until'] as const) {
        const v = o[k];
        if (v !== undefined) filters[k] = v;
      }
      const q = new URLSearchParams({ ...filters, limit: o.limit });
      const r = await ctx.client.call<AccessLogList>('GET', `/api/v1/logs?${q}`);
      const oldestFirst = [...r.records].reverse();
      if (ctx.json && !o.follow) ctx.print('', r);
      else for (const rec of oldestFirst) console.log(ctx.json ? JSON.stringify(rec) : logLine(rec));
      // Silence would leave a newcomer wondering whether it worked.
      if (!ctx.json && r.records.length === 0)
        console.error(
          o.follow ? 'no records yet; waiting for new ones (Ctrl-C to stop)' : 'no records match',
        );
      if (!o.follow) return;
      // Records already printed are not printed again (the tail starts after the list).
      const seen = r.records[0]?.id ?? 0;
      await ctx.client.stream(`/api/v1/logs/stream?${new URLSearchParams(filters)}`, (event, data) => {
        if (event !== 'logs') return;
        for (const rec of logStreamEventViews.logs.parse(data).records)
          if (rec.id > seen) console.log(ctx.json ? JSON.stringify(rec) : logLine(rec));
      });
    });
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const ms = (x: number | null) => (x === null ? '-' : `${x}ms`);

/** `gatehouse analytics`: requests, errors, latency and tops over a window. */
export function analyticsCommand(): Command {
  return new Command('analytics')
    .description('show requests, error rate, p50/p95 latency, top paths, clients and denied addresses')
    .option('--window <w>', '1h, 24h or 7d', '24h')
    .option('--service <name>', 'one service (default: all)')
    .action(async (o: { window: string; service?: string }, c: Command) => {
      const ctx = cliContext(c);
      const q = new URLSearchParams({ window: o.window, ...(o.service ? { service: o.service } : {}) });
      const a = await ctx.client.call<AnalyticsView>('GET', `/api/v1/analytics?${q}`);
      const lines = [
        `${a.service ?? 'all services'}, last ${a.window}`,
        `requests ${a.requests}  5xx ${a.errors_5xx} (${pct(a.error_rate)})  4xx ${a.errors_4xx}  denied ${a.denied}  p50 ${ms(a.p50_ms)}  p95 ${ms(a.p95_ms)}`,
        '',
        table(
          ['TOP PATHS', 'REQUESTS', '5XX'],
          a.top_paths.map((p) => [`${p.host}${p.path}`, p.requests, p.errors_5xx]),
        ),
        '',
        table(
          ['TOP CLIENTS', 'REQUESTS', '5XX'],
          a.top_clients.map((p) => [p.client, p.requests, p.errors_5xx]),
        ),
        '',
        table(
          ['TOP DENIED', 'REQUESTS'],
          a.top_denied.map((p) => [p.client, p.requests]),
        ),
        ...(a.top_countries.length
          ? [
              '',
              table(
                ['TOP COUNTRIES', 'REQUESTS', 'DENIED'],
                a.top_countries.map((c) => [c.country, c.requests, c.denied]),
              ),
            ]
          : []),
      ];
      ctx.print(lines.join('\n'), a);
    });
}
