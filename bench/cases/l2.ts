import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { AccessLogRecord } from '../../src/model/access-log.js';
import { AccessLogStore } from '../../src/observe/access-log-store.js';
import { analytics } from '../../src/observe/analytics.js';
import { disownDir, ownDir } from '../lib/cleanup.js';
import type { CaseResult } from '../lib/report.js';

/** Seconds of load (GATEHOUSE_BENCH_L2_S to shorten; docs/logs.md's figure is 60). */
const SECS = Number(process.env.GATEHOUSE_BENCH_L2_S ?? 60);
const RATE = 10_000;

/**
 * L2: the log store alone under 10,000 records a second for SECS seconds (batches of 1,000 every
 * 100 ms, as an edge's reader sends them), an analytics pass half-way; then what a grown store
 * costs to query. L1 measures the whole path from an edge's nginx.
 */
export async function l2(): Promise<CaseResult> {
  const dir = await mkdtemp(join(tmpdir(), 'gh-bench-l2-'));
  ownDir(dir);
  const s = await AccessLogStore.open({
    file: join(dir, 'a.sqlite'),
    retentionDays: 7,
    maxRows: 100_000_000,
    maxMb: 100_000,
  });
  try {
    const t0 = Date.now() - 3_000_000;
    const mk = (i: number): AccessLogRecord => ({
      time: t0 + Math.floor(i / 200),
      node: `edge-${i % 3}`,
      host: `svc${i % 50}.example.test`,
      service: `svc${i % 50}`,
      route: '/',
      method: 'GET',
      path: `/api/items/${i % 997}`,
      status: i % 50 === 0 ? 502 : i % 17 === 0 ? 404 : 200,
      duration_ms: i % 300,
      upstream: '10.0.0.1:8080',
      upstream_ms: i % 300,
      bytes_in: 320,
      bytes_out: 4000,
      client: `192.0.2.${i % 250}`,
      user: i % 9 === 0 ? 'alice' : null,
      country: null,
    });
    let worst = 0;
    let last = performance.now();
    const tick = setInterval(() => {
      const now = performance.now();
      worst = Math.max(worst, now - last - 10);
      last = now;
    }, 10);
    let n = 0;
    let slowest = 0;
    let during = '';
    const pending: Promise<void>[] = [];
    const elu0 = performance.eventLoopUtilization();
    const start = performance.now();
    const steps = SECS * (RATE / 1000);
    for (let step = 0; step < steps; step++) {
      const batch = Array.from({ length: 1000 }, () => mk(n++));
      const sent = performance.now();
      pending.push(s.ingest(batch).then(() => void (slowest = Math.max(slowest, performance.now() - sent))));
      if (step === Math.floor(steps / 2)) {
        const a0 = performance.now();
        void analytics(s, { window: '24h' }).then(
          (a) => (during = `${a.requests} rows in ${(performance.now() - a0).toFixed(0)} ms`),
        );
      }
      await new Promise((r) => setTimeout(r, Math.max(0, start + (step + 1) * 100 - performance.now())));
    }
    await Promise.all(pending);
    clearInterval(tick);
    const busy = performance.eventLoopUtilization(elu0).utilization;
    const secs = (performance.now() - start) / 1000;
    const [count] = await s.query<{ n: number }>('select count(*) as n from access_log', []);
    const stored = count?.n ?? 0;
    const timed = async (label: string, fn: () => Promise<unknown>) => {
      const a = performance.now();
      await fn();
      return `${label} ${(performance.now() - a).toFixed(0)} ms`;
    };
    const queries = [
      `analytics 24h during ingestion: ${during || 'not done by the end'}`,
      await timed('analytics 24h', () => analytics(s, { window: '24h' })),
      await timed('analytics 1h one service', () => analytics(s, { window: '1h', service: 'svc7' })),
      await timed('list status=5xx', () => s.list({ status: [[500, 599]] }, 100)),
      await timed('list client+user', () => s.list({ client: '192.0.2.7', user: 'alice' }, 100)),
      await timed('retention pass', () => s.retain()),
    ].join('; ');
    const size = statSync(join(dir, 'a.sqlite')).size / 1e6;
    return {
      rows: [
        {
          id: 'L2',
          measure: `log store: ${n} records at ${RATE}/s for ${SECS} s (${(n / secs).toFixed(0)}/s offered), records lost`,
          value: n - stored,
          unit: 'records',
          goal: { op: '<=', value: 0 },
          detail: `${stored} stored; slowest batch stored ${slowest.toFixed(0)} ms after hand-over; longest event-loop stall ${worst.toFixed(0)} ms; event loop busy ${(busy * 100).toFixed(1)} % (building the records included); file ${size.toFixed(0)} MB; rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`,
        },
        {
          id: 'L2',
          measure: `log store: queries over the ${stored} rows`,
          value: size,
          unit: 'MB file',
          detail: queries,
        },
      ],
      notes: [],
      data: { n, stored, slowest, worst, busy, queries },
    };
  } finally {
    await s.close();
    await rm(dir, { recursive: true, force: true });
    disownDir(dir);
  }
}
