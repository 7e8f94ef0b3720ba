import type { Row } from './report.js';
import { median, round } from './stats.js';
import { execFile } from 'node:child_process';

/** One HTTP endpoint wrk loads: nginx port plus the Host header that selects the route. */
export interface WrkTarget {
  name: string;
  port: number;
  host: string;
  /** More request headers (e.g. a session cookie). */
  headers?: Record<string, string>;
}

export interface WrkResult {
  rps: number;
  requests: number;
  /** Responses other than 2xx/3xx: any at all means the measurement is not of the happy path. */
  non2xx: number;
  socketErrors: number;
  /** Latency percentiles in ms (with `latency: true`). */
  p50Ms?: number;
  p99Ms?: number;
}

export interface WrkOptions {
  seconds: number;
  connections?: number;
  /** Ask wrk for its latency distribution. */
  latency?: boolean;
}

/** Runs `wrk -t1 -cN -dSs` against 127.0.0.1 (never anything else) and parses its summary. */
export function runWrk(target: WrkTarget, opts: WrkOptions): Promise<WrkResult> {
  const args = [
    '-t1',
    `-c${opts.connections ?? 16}`,
    `-d${opts.seconds}s`,
    '-H',
    `Host: ${target.host}`,
    ...Object.entries(target.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`]),
    ...(opts.latency ? ['--latency'] : []),
    `http://127.0.0.1:${target.port}/`,
  ];
  return new Promise((resolve, reject) => {
    execFile('wrk', args, { timeout: (opts.seconds + 30) * 1000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`wrk ${target.name}: ${err.message} ${stderr}`.trim()));
      try {
        resolve(parseWrk(stdout));
      } catch (e) {
        reject(new Error(`wrk ${target.name}: ${(e as Error).message}\n${stdout}`));
      }
    });
  });
}

export function parseWrk(out: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)?.[1];
  if (rps === undefined) throw new Error('no Requests/sec in wrk output');
  const requests = /(\d+) requests in/.exec(out)?.[1] ?? '0';
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? '0';
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = sock ? sock.slice(1).reduce((n, x) => n + Number(x), 0) : 0;
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\b`, 'm').exec(out);
    if (!m) return undefined;
    const f = { us: 0.001, ms: 1, s: 1000 }[m[2] as 'us' | 'ms' | 's'];
    return Number(m[1]) * f;
  };
  const p50Ms = pct('50');
  const p99Ms = pct('99');
  return {
    rps: Number(rps),
    requests: Number(requests),
    non2xx: Number(non2xx),
    socketErrors,
    ...(p50Ms !== undefined ? { p50Ms } : {}),
    ...(p99Ms !== undefined ? { p99Ms } : {}),
  };
}

/**
 * Loads each target in turn, `rounds` times, the order reversed every other round (A,B,C / C,B,A /
 * …) so that a steady drift of the machine favours no target. Results are indexed by round: compare
 * targets within a round (see `pairedRatio`). A short unmeasured warm-up per target first fills
 * keepalive pools and JIT caches.
 */
export async function alternate(
  targets: readonly WrkTarget[],
  rounds: number,
  seconds: number,
  opts: Omit<WrkOptions, 'seconds'> = {},
): Promise<Map<string, WrkResult[]>> {
  for (const t of targets) await runWrk(t, { ...opts, seconds: 1 });
  const results = new Map<string, WrkResult[]>(targets.map((t) => [t.name, []]));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? targets : [...targets].reverse();
    for (const t of order) results.get(t.name)?.push(await runWrk(t, { ...opts, seconds }));
  }
  return results;
}

/**
 * The median over rounds of (A's req/s ÷ B's req/s in the same round). This machine's throughput
 * swings by ±30 % within seconds; runs of one round are close in time, so their ratio cancels most
 * of the swing, where a ratio of two overall medians would not.
 */
export function pairedRatio(runs: Map<string, WrkResult[]>, a: string, b: string): number {
  const as = runs.get(a) ?? [];
  const bs = runs.get(b) ?? [];
  return median(as.map((x, i) => x.rps / (bs[i]?.rps ?? NaN)));
}

/** Median req/s of a target over its runs. */
export function medianRps(runs: Map<string, WrkResult[]>, name: string): number {
  return median((runs.get(name) ?? []).map((r) => r.rps));
}

/**
 * A report row: `num`'s req/s ÷ `den`'s (pairedRatio), at least `goal`, with both medians and the
 * number of rounds in its detail.
 */
export function ratioRow(
  id: string,
  measure: string,
  runs: Map<string, WrkResult[]>,
  num: string,
  den: string,
  goal: number,
  rounds: { rounds: number; seconds: number },
): Row {
  return {
    id,
    measure,
    value: round(pairedRatio(runs, num, den), 3),
    unit: 'ratio',
    goal: { op: '>=', value: goal },
    detail: `${Math.round(medianRps(runs, num))} / ${Math.round(medianRps(runs, den))} req/s (medians); ${rounds.rounds}×${rounds.seconds}s`,
  };
}

/** Errors seen across runs: a fast 404 or a reset would otherwise look like a win, so they are reported. */
export function errorCount(runs: readonly WrkResult[]): number {
  return runs.reduce((n, r) => n + r.non2xx + r.socketErrors, 0);
}
