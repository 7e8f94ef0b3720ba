import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { accessLogRecordSchema, type AccessLogRecord } from '../../src/model/access-log.js';
import { AccessLogStore } from '../../src/observe/access-log-store.js';
import { logQuerySchema, matches, parseInstant, resolveFilter } from '../../src/observe/access-log-query.js';
import { analytics, percentileOf, rankOffset } from '../../src/observe/analytics.js';
import { settingsSchema } from '../../src/model/settings.js';
import { testDir } from '../helpers/tmp.js';

const NOW = Date.UTC(2026, 11, 7, 12, 0, 0);
const DAY = 86_400_000;

export function record(over: Partial<AccessLogRecord> = {}): AccessLogRecord {
  return accessLogRecordSchema.parse({
    time: NOW,
    node: 'local',
    host: 'web.test',
    service: 'web',
    route: '/',
    method: 'GET',
    path: '/',
    status: 200,
    duration_ms: 5,
    upstream: '10.0.0.1:80',
    upstream_ms: 4,
    bytes_in: 100,
    bytes_out: 1000,
    client: '192.0.2.1',
    user: null,
    country: null,
    ...over,
  });
}

const open: AccessLogStore[] = [];
async function store(over: Partial<Parameters<typeof AccessLogStore.open>[0]> = {}) {
  const s = await AccessLogStore.open({
    file: ':memory:',
    retentionDays: 7,
    maxRows: 1_000_000,
    maxMb: 1024,
    now: () => NOW,
    ...over,
  });
  open.push(s);
  return s;
}
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

describe('access log store: retention', () => {
  it('drops records older than access_log_retention_days, keeps the rest', async () => {
    const s = await store({ retentionDays: 2 });
    await s.ingest([
      record({ time: NOW - 3 * DAY, path: '/old' }),
      record({ time: NOW - 2 * DAY - 1, path: '/just-too-old' }),
      record({ time: NOW - 2 * DAY + 1000, path: '/kept' }),
      record({ time: NOW, path: '/new' }),
    ]);
    const r = await s.retain();
    expect(r.dropped).toBe(2);
    expect((await s.list({}, 100)).map((x) => x.path)).toEqual(['/new', '/kept']);
  });

  it('keeps at most access_log_max_rows, dropping the oldest first', async () => {
    const s = await store({ maxRows: 1000 });
    for (let b = 0; b < 3; b++)
      await s.ingest(Array.from({ length: 500 }, (_, i) => record({ path: `/${b * 500 + i}` })));
    const r = await s.retain();
    expect(r.rows).toBe(1000);
    expect(r.dropped).toBe(500);
    const newest = await s.list({}, 1);
    expect(newest[0]?.path).toBe('/1499');
    const [oldest] = await s.query<{ path: string }>('select path from access_log order by id limit 1', []);
    expect(oldest?.path).toBe('/500');
  });

  it('keeps the file within access_log_max_mb (the oldest go)', async () => {
    const dir = await testDir('gh-alog-');
    const s = await store({ file: `${dir}/a.sqlite`, maxMb: 1 });
    const long = '/p'.repeat(400);
    for (let b = 0; b < 10; b++)
      await s.ingest(Array.from({ length: 500 }, (_, i) => record({ path: `${long}/${b * 500 + i}` })));
    const r = await s.retain();
    expect(r.bytes).toBeLessThanOrEqual(1024 * 1024);
    expect(r.dropped).toBeGreaterThan(0);
    // The newest survive.
    expect((await s.list({}, 1))[0]?.path).toBe(`${long}/4999`);
  });
});

describe('access log store: queries', () => {
  it('runs queries in a thread started by the first query and ended after it idles', async () => {
    const dir = await testDir('gh-alog-q-');
    const tasks = () => readdirSync('/proc/self/task').length;
    const s = await store({ file: `${dir}/a.sqlite`, queryThreadIdleMs: 300 });
    await s.ingest([record({ path: '/one' })]);
    const idle = tasks();
    expect((await s.list({}, 5)).map((r) => r.path)).toEqual(['/one']);
    // The query thread is running now (every thread is an isolate: ~8 MB while it lives).
    expect(tasks()).toBeGreaterThan(idle);
    expect(await s.query<{ n: number }>('select count(*) as n from access_log', [])).toEqual([{ n: 1 }]);
    await expect.poll(tasks, { timeout: 5000 }).toBe(idle);
    // And comes back when asked again.
    await s.ingest([record({ path: '/two' })]);
    expect((await s.list({}, 5)).map((r) => r.path)).toEqual(['/two', '/one']);
  });

  it('filters by service, status class or code, client, user and time; pages with before', async () => {
    const s = await store();
    await s.ingest([
      record({ status: 200, time: NOW - 5000 }),
      record({ status: 502, time: NOW - 4000, service: 'api', host: 'api.test' }),
      record({ status: 404, time: NOW - 3000, client: '198.51.100.7' }),
      record({ status: 403, time: NOW - 2000, user: 'alice' }),
      record({ status: 500, time: NOW - 1000 }),
    ]);
    const q = (input: Record<string, string>) => resolveFilter(logQuerySchema.parse(input), NOW);
    const paths = async (input: Record<string, string>) => (await s.list(q(input), 100)).map((r) => r.status);
    expect(await paths({ status: '5xx' })).toEqual([500, 502]);
    expect(await paths({ status: '4xx' })).toEqual([403, 404]);
    expect(await paths({ status: '404' })).toEqual([404]);
    expect(await paths({ status: '401,403,429' })).toEqual([403]);
    expect(await paths({ service: 'api' })).toEqual([502]);
    expect(await paths({ client: '198.51.100.7' })).toEqual([404]);
    expect(await paths({ user: 'alice' })).toEqual([403]);
    expect(await paths({ since: String(NOW - 2500), until: new Date(NOW - 1500).toISOString() })).toEqual([
      403,
    ]);
    expect(await paths({ since: '2s' })).toEqual([500, 403]);
    // Pages: newest first, `before` the last id seen.
    const first = await s.list({}, 2);
    expect(first.map((r) => r.status)).toEqual([500, 403]);
    const next = await s.list({}, 2, first[1]?.id);
    expect(next.map((r) => r.status)).toEqual([404, 502]);
  });

  it('the live tail matches as the store does', async () => {
    const s = await store();
    const all = [
      record({ status: 200 }),
      record({ status: 503, service: 'api' }),
      record({ status: 401, client: '203.0.113.9', user: 'bob', time: NOW - 10_000 }),
    ];
    const heard: number[] = [];
    const filters = [
      { status: '5xx' },
      { client: '203.0.113.9' },
      { service: 'web', since: '5s' },
      { user: 'bob' },
    ];
    for (const f of filters) {
      const filter = resolveFilter(logQuerySchema.parse(f), NOW);
      const off = s.subscribe(filter, (rs) => heard.push(...rs.map((r) => r.status)));
      await s.ingest(all);
      off();
      const stored = (await s.list(filter, 100)).map((r) => r.status).sort();
      expect(heard.splice(0).sort(), JSON.stringify(f)).toEqual([...new Set(stored)].sort());
      expect(
        all
          .filter((r) => matches(filter, r))
          .map((r) => r.status)
          .sort(),
      ).toEqual([...new Set(stored)].sort());
    }
  });

  it('refuses bad filters naming the field', () => {
    for (const [field, value] of [
      ['status', '6xx'],
      ['status', '5x'],
      ['client', 'not an ip'],
      ['since', 'yesterday'],
      ['limit', '0'],
      ['before', 'x'],
    ] as const) {
      const r = logQuerySchema.safeParse({ [field]: value });
      expect(r.success, `${field}=${value}`).toBe(false);
      expect(r.error?.issues[0]?.path).toEqual([field]);
    }
    expect(logQuerySchema.safeParse({ color: 'red' }).success).toBe(false);
    expect(parseInstant('2026-12-07T10:00:00Z', 0)).toBe(Date.UTC(2026, 11, 7, 10));
    expect(parseInstant('7d', NOW)).toBe(NOW - 7 * DAY);
  });

  it('settings: defaults and refusals', () => {
    const d = settingsSchema.parse({});
    expect(d.access_log_retention_days).toBe(7);
    expect(d.access_log_max_rows).toBe(2_000_000);
    expect(d.access_log_max_mb).toBe(1024);
    expect(d.access_log_json).toBe('off');
    expect(settingsSchema.parse({ access_log_retention_days: '30' }).access_log_retention_days).toBe(30);
    expect(settingsSchema.safeParse({ access_log_json: 'relative.log' }).success).toBe(false);
    expect(settingsSchema.safeParse({ access_log_max_rows: 5 }).success).toBe(false);
  });
});

describe('analytics math', () => {
  it('percentiles from a histogram equal those of the sorted values', () => {
    const values = Array.from({ length: 997 }, (_, i) => (i * 7919) % 113);
    const sorted = [...values].sort((a, b) => a - b);
    const hist = new Map<number, number>();
    for (const v of values) hist.set(v, (hist.get(v) ?? 0) + 1);
    const h = [...hist].map(([v, n]) => ({ v, n }));
    for (const p of [0.01, 0.5, 0.9, 0.95, 0.99, 1])
      expect(percentileOf(h, p)).toBe(sorted[rankOffset(p, 997)]);
    expect(percentileOf([], 0.5)).toBeNull();
  });

  it('nearest-rank percentile positions', () => {
    expect(rankOffset(0.5, 1)).toBe(0);
    expect(rankOffset(0.5, 4)).toBe(1);
    expect(rankOffset(0.95, 100)).toBe(94);
    expect(rankOffset(0.95, 20)).toBe(18);
  });

  it('counts, error rate, percentiles, tops and series agree with a plain computation', async () => {
    const s = await store();
    const rs: AccessLogRecord[] = [];
    // 200 requests over the last hour, deterministic: durations 1..200 ms.
    for (let i = 0; i < 200; i++) {
      const status = i % 10 === 0 ? 502 : i % 7 === 0 ? 403 : i % 13 === 0 ? 404 : 200;
      rs.push(
        record({
          time: NOW - (i % 60) * 55_000 - 1,
          duration_ms: 200 - i,
          status,
          path: `/p${i % 3}`,
          client: `192.0.2.${i % 4}`,
          service: i % 2 ? 'web' : 'api',
        }),
      );
    }
    rs.push(record({ time: NOW - 2 * 3_600_000, status: 500 })); // outside 1h
    await s.ingest(rs);
    const a = await analytics(s, { window: '1h' }, NOW);
    const inside = rs.filter((r) => r.time >= a.since);
    expect(a.requests).toBe(200);
    expect(inside.length).toBe(200);
    const e5 = inside.filter((r) => r.status >= 500).length;
    expect(a.errors_5xx).toBe(e5);
    expect(a.error_rate).toBeCloseTo(e5 / 200);
    expect(a.errors_4xx).toBe(inside.filter((r) => r.status >= 400 && r.status < 500).length);
    expect(a.denied).toBe(inside.filter((r) => [401, 403, 429].includes(r.status)).length);
    const sorted = inside.map((r) => r.duration_ms).sort((x, y) => x - y);
    expect(a.p50_ms).toBe(sorted[99]);
    expect(a.p95_ms).toBe(sorted[189]);
    expect(a.p50_ms).toBe(100);
    expect(a.p95_ms).toBe(190);
    expect(a.top_paths[0]).toEqual({
      host: 'web.test',
      path: '/p0',
      requests: 67,
      errors_5xx: expect.any(Number),
    });
    expect(a.top_clients.map((c) => c.requests)).toEqual([50, 50, 50, 50]);
    const deniedBy = new Map<string, number>();
    for (const r of inside) if (r.status === 403) deniedBy.set(r.client, (deniedBy.get(r.client) ?? 0) + 1);
    expect(Object.fromEntries(a.top_denied.map((d) => [d.client, d.requests]))).toEqual(
      Object.fromEntries(deniedBy),
    );
    expect(a.series.length).toBe(60);
    expect(a.series.reduce((x, p) => x + p.requests, 0)).toBe(200);
    expect(a.series.reduce((x, p) => x + p.errors_5xx, 0)).toBe(e5);
    const web = await analytics(s, { window: '1h', service: 'web' }, NOW);
    expect(web.requests).toBe(100);
    const empty = await analytics(s, { window: '1h', service: 'none' }, NOW);
    expect(empty).toMatchObject({ requests: 0, error_rate: 0, p50_ms: null, p95_ms: null });
  });
});

describe('access log store: throughput', () => {
  it('takes 10,000 records a second without losing any, the event loop free', async () => {
    const dir = await testDir('gh-alog-');
    // The store's own capacity: at SCHED_IDLE its writer gets only the CPU nothing else wants, and
    // the test suite's other files may want all of it (docs/logs.md: records then arrive later).
    const s = await store({ file: `${dir}/a.sqlite`, yieldToRequests: false });
    const batch = (n: number) =>
      Array.from({ length: n }, (_, i) => record({ path: `/x/${i}`, time: NOW + i }));
    // The event loop's longest stall while batches are written.
    let worst = 0;
    let last = performance.now();
    const tick = setInterval(() => {
      const t = performance.now();
      worst = Math.max(worst, t - last - 5);
      last = t;
    }, 5);
    // 10,000 a second for 3 s, as an edge's reader sends them: a batch of 1,000 every 100 ms.
    const paced: Promise<void>[] = [];
    const b1000 = batch(1000);
    // What ingest itself takes on the event loop (handing the batch to the store's thread).
    let handOver = 0;
    for (let i = 0; i < 30; i++) {
      const a = performance.now();
      paced.push(s.ingest(b1000));
      handOver = Math.max(handOver, performance.now() - a);
      await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.all(paced);
    clearInterval(tick);
    // Then as fast as it goes: batches of 5,000 (the most an edge sends at once).
    const b5000 = batch(5000);
    const started = performance.now();
    const burst: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) burst.push(s.ingest(b5000));
    await Promise.all(burst);
    const secs = (performance.now() - started) / 1000;
    const [n] = await s.query<{ n: number }>('select count(*) as n from access_log', []);
    console.log(
      `access log store: paced 10,000/s for 3 s: handing a batch over took at most ${handOver.toFixed(1)} ms, longest event loop stall ${worst.toFixed(1)} ms; burst 100,000 in ${secs.toFixed(2)} s = ${Math.round(100_000 / secs)}/s`,
    );
    expect(n?.n).toBe(130_000);
    expect(100_000 / secs).toBeGreaterThan(10_000);
    // The stall also counts time the machine gave to other processes: only the hand-over is asserted.
    expect(handOver).toBeLessThan(50);
  });
});
