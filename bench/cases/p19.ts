import type { BenchContext } from '../lib/context.js';
import { startConfigCopy, type ConfigCopy } from '../lib/config-copy.js';
import { startBenchGatehouse, type BenchGatehouse } from '../lib/gatehouse.js';
import type { CaseResult, Row } from '../lib/report.js';
import { round, sleep } from '../lib/stats.js';
import {
  alternate,
  errorCount,
  type WrkResult,
  type WrkTarget,
  ratioRow as sharedRatioRow,
} from '../lib/wrk.js';
import { addServices, checkLanes, FAST_HOST, FULL_HOST } from './p1.js';

const ROUNDS = 8;
const SECONDS = 3;
const GOAL = 0.95;

/** The main log's format before issue 18 (a line of text, no upstream, no pool). */
const OLD_FORMAT = `log_format gh_main '$remote_addr [$time_iso8601] "$host" "$request" $status $body_bytes_sent $request_time';`;

/**
 * How a copy of the live config logs: `off` (access_log off), `json` (as it is, but nobody reads
 * the file), `old` (the format before issue 18, nobody reads it).
 */
type CopyMode = 'off' | 'json' | 'old';

/** A copy of the live config with its main access log as `mode` says (config-copy.ts). */
async function startCopy(bg: BenchGatehouse, mode: CopyMode): Promise<ConfigCopy> {
  let offs = 0;
  const copy = await startConfigCopy(bg, `p19-${mode}`, FAST_HOST, (text) =>
    text
      .replace(/access_log (\S+\/logs\/access\.log) gh_main ([^;]*);/g, (line) => {
        offs++;
        return mode === 'off' ? 'access_log off;' : line;
      })
      .replace(/log_format gh_main [^\n]*;/, (line) => (mode === 'old' ? OLD_FORMAT : line)),
  );
  if (offs === 0) {
    await copy.stop();
    throw new Error('P19: no main access log found in the config to turn off');
  }
  return copy;
}

function ratioRow(
  id: string,
  measure: string,
  runs: Map<string, WrkResult[]>,
  num: string,
  den: string,
): Row {
  return sharedRatioRow(id, measure, runs, num, den, GOAL, { rounds: ROUNDS, seconds: SECONDS });
}

/**
 * P19 (issue 18): public route req/s with traffic metrics and access logs on ÷ off, side by side.
 * On: Gatehouse as it runs, nginx writing the JSON access log and Gatehouse (this process) reading,
 * counting and batching every line. Off: a copy of the same nginx config with `access_log off`.
 * The fast lane and a 2-route service (server block, $gh_pool) are both measured. The rows also
 * say whether every request was counted.
 */
export async function p19(ctx: BenchContext): Promise<CaseResult> {
  const backend = await ctx.backend();
  const bg = await startBenchGatehouse();
  try {
    await addServices(bg, backend.port);
    await checkLanes(bg);
    const copies: ConfigCopy[] = [];
    try {
      const off = await startCopy(bg, 'off');
      copies.push(off);
      const json = await startCopy(bg, 'json');
      copies.push(json);
      const old = await startCopy(bg, 'old');
      copies.push(old);
      const counters = bg.gh.traffic.counters;
      const before = counters.lines;
      const cpu0 = process.cpuUsage();
      const targets: WrkTarget[] = [
        { name: 'fast-on', port: bg.httpPort, host: FAST_HOST },
        { name: 'fast-off', port: off.port, host: FAST_HOST },
        { name: 'fast-json-unread', port: json.port, host: FAST_HOST },
        { name: 'fast-old-format', port: old.port, host: FAST_HOST },
        { name: 'full-on', port: bg.httpPort, host: FULL_HOST },
        { name: 'full-off', port: off.port, host: FULL_HOST },
      ];
      const runs = await alternate(targets, ROUNDS, SECONDS);
      // Warm-up runs (1 s each) are not in `runs`; the counters saw them too.
      const sent = ['fast-on', 'full-on'].reduce(
        (n, name) => n + (runs.get(name) ?? []).reduce((m, r) => m + r.requests, 0),
        0,
      );
      // nginx flushes every second; the reader polls every 250 ms.
      await sleep(2500);
      const counted = counters.lines - before;
      const cpu = process.cpuUsage(cpu0);
      const cpuUsPerLine = (cpu.user + cpu.system) / Math.max(1, counted);
      const notes = targets
        .map((t) => [t.name, errorCount(runs.get(t.name) ?? [])] as const)
        .filter(([, n]) => n > 0)
        .map(([name, n]) => `P19: ${name} saw ${n} errors (non-2xx or socket) under load`);
      const info = (id: string, measure: string, on: string, base: string): Row => ({
        ...ratioRow(id, measure, runs, on, base),
        goal: undefined,
      });
      return {
        rows: [
          ratioRow('P19', 'public route (fast lane): metrics and logs on ÷ off', runs, 'fast-on', 'fast-off'),
          ratioRow(
            'P19b',
            '2-route service (server block): metrics and logs on ÷ off',
            runs,
            'full-on',
            'full-off',
          ),
          info(
            'P19d',
            'fast lane: the old text log, unread ÷ off (what logging cost before)',
            'fast-old-format',
            'fast-off',
          ),
          info(
            'P19e',
            'fast lane: the JSON log, unread ÷ the old text log (the format)',
            'fast-json-unread',
            'fast-old-format',
          ),
          info(
            'P19f',
            'fast lane: the JSON log read and counted ÷ unread (the reader)',
            'fast-on',
            'fast-json-unread',
          ),
          {
            id: 'P19c',
            measure: 'access log lines counted ÷ requests sent (logs on)',
            value: round(counted / sent, 4),
            unit: 'ratio',
            goal: { op: '>=', value: 1 },
            detail: `${counted} lines counted (with the 1 s warm-ups), ${sent} requests in the measured runs; Gatehouse's process: ${round(cpuUsPerLine, 2)} µs CPU per line`,
          },
        ],
        notes,
        data: {
          rounds: ROUNDS,
          seconds: SECONDS,
          counted,
          sent,
          cpuUsPerLine,
          runs: Object.fromEntries(runs),
        },
      };
    } finally {
      for (const c of copies) await c.stop();
    }
  } finally {
    await bg.close();
  }
}
