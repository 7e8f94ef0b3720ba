import { statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import type { AccessLogRecord } from '../../src/model/access-log.js';
import { AccessLogStore } from '../../src/observe/access-log-store.js';
import { analytics } from '../../src/observe/analytics.js';
import { testDir } from '../helpers/tmp.js';

/** Seconds of load: GATEHOUSE_ACCESS_LOG_LOAD=60 for the figure in docs/logs.md; unset: skipped. */
const SECS = Number(process.env.GATEHOUSE_ACCESS_LOG_LOAD ?? 0);

/**
 * 10,000 records a second into one store for SECS seconds (batches of 1,000 every 100 ms, as an
 * edge's reader sends them), an analytics pass half-way; then the figures of a grown store.
 *   GATEHOUSE_ACCESS_LOG_LOAD=60 npx vitest run --project unit test/unit/access-log-load.test.ts
 */
describe.runIf(SECS > 0)('access log store under load', () => {
  let store: AccessLogStore | undefined;
  afterAll(async () => {
    await store?.close();
  });

  it(`takes 10,000 records a second for ${SECS} s, none lost`, { timeout: (SECS + 120) * 1000 }, async () => {
    const dir = await testDir('gh-alog-load-');
    const s = (store = await AccessLogStore.open({
      file: `${dir}/a.sqlite`,
      retentionDays: 7,
      maxRows: 100_000_000,
      maxMb: 100_000,
    }));
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
    for (let step = 0; step < SECS * 10; step++) {
      const batch = Array.from({ length: 1000 }, () => mk(n++));
      const sent = performance.now();
      pending.push(s.ingest(batch).then(() => void (slowest = Math.max(slowest, performance.now() - sent))));
      if (step === SECS * 5) {
        const a0 = performance.now();
        void analytics(s, { window: '24h' }).then(
          (a) => (during = `${a.requests} rows: ${(performance.now() - a0).toFixed(0)} ms`),
        );
      }
      await new Promise((r) => setTimeout(r, Math.max(0, start + (step + 1) * 100 - performance.now())));
    }
    await Promise.all(pending);
    clearInterval(tick);
    const busy = performance.eventLoopUtilization(elu0).utilization;
    const secs = (performance.now() - start) / 1000;
    const [count] = await s.query<{ n: number }>('select count(*) as n from access_log', []);
    const timed = async (label: string, fn: () => Promise<unknown>) => {
      const a = performance.now();
      await fn();
      return `${label} ${(performance.now() - a).toFixed(0)} ms`;
    };
    const figures = [
      `${n} records in ${secs.toFixed(1)} s (${Math.round(n / secs)}/s), ${count?.n} stored`,
      `slowest batch stored after ${slowest.toFixed(0)} ms, longest event-loop stall ${worst.toFixed(0)} ms, event loop busy ${(busy * 100).toFixed(1)} % (building the records included)`,
      `file ${(statSync(`${dir}/a.sqlite`).size / 1e6).toFixed(0)} MB, rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`,
      `analytics 24h during ingestion (${during})`,
      await timed('analytics 24h', () => analytics(s, { window: '24h' })),
      await timed('analytics 1h service', () => analytics(s, { window: '1h', service: 'svc7' })),
      await timed('list status=5xx', () => s.list({ status: [[500, 599]] }, 100)),
      await timed('list client+user', () => s.list({ client: '192.0.2.7', user: 'alice' }, 100)),
      await timed('retention pass', () => s.retain()),
    ];
    console.log(`access log load:\n  ${figures.join('\n  ')}`);
    expect(count?.n).toBe(n);
  });
});
