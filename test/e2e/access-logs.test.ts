import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessLogList, AnalyticsView } from '../../src/api/views/index.js';
import { accessLogRecordSchema, type AccessLogRecord } from '../../src/model/access-log.js';
import { cli } from '../helpers/alerts.js';
import { ADMIN_TOKEN, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { openStream } from '../helpers/stream.js';
import { testDir } from '../helpers/tmp.js';

const DAY = 86_400_000;

function rec(over: Partial<AccessLogRecord>): AccessLogRecord {
  return {
    time: Date.now() - 60_000,
    node: 'edge-a',
    host: 'web.gw.test',
    service: 'web',
    route: '/',
    method: 'GET',
    path: '/',
    status: 200,
    duration_ms: 10,
    upstream: '10.0.0.1:80',
    upstream_ms: 9,
    bytes_in: 100,
    bytes_out: 1000,
    client: '192.0.2.1',
    user: null,
    country: null,
    ...over,
  };
}

/**
 * The access log store in a running Gatehouse, fed through the AccessLogSink it exposes (what
 * every edge's log reader calls) and read back as an operator does: the API with filters and
 * pages, the live tail, analytics, retention, the JSON lines output and the CLI.
 */
describe('access logs: store, API, live tail, analytics, retention, CLI', () => {
  let t: TestGatehouse;
  let jsonFile: string;
  const logs = async (q: string) => {
    const r = await t.api('GET', `/api/v1/logs?${q}`);
    expect(r.status, r.body).toBe(200);
    return r.json as unknown as AccessLogList;
  };

  beforeAll(async () => {
    jsonFile = join(await testDir('gh-alog-json-'), 'access.jsonl');
    t = await startTestGatehouse({ access_log_max_rows: 1000, access_log_json: jsonFile });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('keeps every record of a 10,000-record burst and reads them back filtered and paged', async () => {
    const now = Date.now();
    const batch = (n: number, over: Partial<AccessLogRecord>) =>
      Array.from({ length: n }, (_, i) => rec({ time: now - 30_000 + i, path: `/p/${i}`, ...over }));
    // What an edge's reader does: batches of at most 5,000, awaited.
    await Promise.all([
      t.gh.accessLog.ingest(batch(4990, {})),
      t.gh.accessLog.ingest(batch(5000, { node: 'edge-b' })),
      t.gh.accessLog.ingest(batch(5, { status: 502, service: 'api', host: 'api.gw.test' })),
      t.gh.accessLog.ingest(batch(3, { status: 403, client: '203.0.113.9', user: 'mallory' })),
      t.gh.accessLog.ingest(batch(2, { status: 404, client: '198.51.100.4' })),
    ]);
    const five = await logs('status=5xx&limit=1000');
    expect(five.records.map((r) => r.status)).toEqual([502, 502, 502, 502, 502]);
    expect(five.next).toBeNull();
    expect((await logs('service=api')).records).toHaveLength(5);
    expect((await logs('client=203.0.113.9')).records.map((r) => r.user)).toEqual([
      'mallory',
      'mallory',
      'mallory',
    ]);
    expect((await logs('user=mallory&status=403')).records).toHaveLength(3);
    expect((await logs('status=4xx')).records).toHaveLength(5);
    expect((await logs('status=404,403')).records).toHaveLength(5);
    // Pages of 1000 walk every record once.
    const seen = new Set<number>();
    let before = '';
    for (;;) {
      const page = await logs(`limit=1000${before}`);
      for (const r of page.records) seen.add(r.id);
      if (page.next === null) break;
      before = `&before=${page.next}`;
    }
    expect(seen.size).toBe(10_000);
    // Time filters: an ISO time, epoch milliseconds, a duration ago.
    expect((await logs(`since=${new Date(now + 60_000).toISOString()}`)).records).toHaveLength(0);
    expect((await logs(`until=${now - 31_000}`)).records).toHaveLength(0);
    expect((await logs('since=5m&limit=1')).records).toHaveLength(1);
  });

  it('refuses bad filters with a 400 naming the field', async () => {
    for (const [q, field] of [
      ['status=6xx', 'status'],
      ['limit=5000', 'limit'],
      ['since=yesterday', 'since'],
      ['client=a%20b', 'client'],
      ['colour=red', ''],
    ] as const) {
      const r = await t.api('GET', `/api/v1/logs?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body, q).toContain(field);
    }
    const a = await t.api('GET', '/api/v1/analytics?window=30d');
    expect(a.status).toBe(400);
    expect(a.body).toContain('window');
    const s = await t.api('GET', '/api/v1/logs/stream?status=abc');
    expect(s.status).toBe(400);
    expect(s.body).toContain('status');
  });

  it('tails new records live, with the same filters', async () => {
    const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const fives = openStream(t.apiPort, headers, '/api/v1/logs/stream?status=5xx&service=web');
    const all = openStream(t.apiPort, headers, '/api/v1/logs/stream');
    try {
      await expect.poll(() => fives.events.length + all.events.length).toBe(2);
      await t.gh.accessLog.ingest([
        rec({ time: Date.now(), status: 200, path: '/fine' }),
        rec({ time: Date.now(), status: 504, path: '/slow' }),
        rec({ time: Date.now(), status: 500, service: 'api', path: '/other' }),
      ]);
      await expect.poll(() => all.events.length).toBe(2);
      await expect.poll(() => fives.events.length).toBe(2);
      const got = (s: typeof all) => (s.events[1]?.data.records as { path: string }[]).map((r) => r.path);
      expect(got(fives)).toEqual(['/slow']);
      expect(got(all)).toEqual(['/fine', '/slow', '/other']);
    } finally {
      fives.close();
      all.close();
    }
  });

  it('counts analytics right: requests, error rate, denied, percentiles, tops, series', async () => {
    // A service of its own, so the numbers are exactly these.
    const now = Date.now();
    const durations = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100 ms
    await t.gh.accessLog.ingest(
      durations.map((d, i) =>
        rec({
          time: now - 10 * 60_000 + i,
          service: 'stats',
          host: 'stats.gw.test',
          path: i < 60 ? '/a' : '/b',
          duration_ms: d,
          status: i < 7 ? 503 : i < 10 ? 429 : 200,
          client: i < 10 ? '198.51.100.99' : '192.0.2.50',
        }),
      ),
    );
    const r = await t.api('GET', '/api/v1/analytics?window=1h&service=stats');
    expect(r.status, r.body).toBe(200);
    const a = r.json as unknown as AnalyticsView;
    expect(a).toMatchObject({ requests: 100, errors_5xx: 7, errors_4xx: 3, denied: 3, error_rate: 0.07 });
    expect(a.p50_ms).toBe(50);
    expect(a.p95_ms).toBe(95);
    expect(a.top_paths.map((p) => [p.path, p.requests])).toEqual([
      ['/a', 60],
      ['/b', 40],
    ]);
    expect(a.top_clients[0]).toEqual({ client: '192.0.2.50', requests: 90, errors_5xx: 0 });
    expect(a.top_denied).toEqual([{ client: '198.51.100.99', requests: 3 }]);
    expect(a.series).toHaveLength(60);
    expect(a.series.reduce((n, p) => n + p.requests, 0)).toBe(100);
    const all = (await t.api('GET', '/api/v1/analytics')).json as unknown as AnalyticsView;
    expect(all.window).toBe('24h');
    expect(all.requests).toBeGreaterThan(100);
  });

  it('drops records past retention: older than the days, more than the rows', async () => {
    await t.gh.accessLog.ingest([rec({ time: Date.now() - 8 * DAY, path: '/ancient' })]);
    expect((await logs('until=7d')).records.map((r) => r.path)).toEqual(['/ancient']);
    const pass = await t.gh.accessLog.retain();
    expect(pass.rows).toBe(1000);
    expect((await logs('until=7d')).records).toHaveLength(0);
    // The newest 1000 stay: the last batch (stats) is among them.
    expect((await logs('service=stats&limit=1000')).records).toHaveLength(100);
  });

  it('writes each record as a JSON line to access_log_json too', async () => {
    await t.gh.accessLog.ingest([rec({ time: Date.now(), path: '/to-loki', user: 'alice', country: 'DE' })]);
    await expect
      .poll(async () => (await readFile(jsonFile, 'utf8')).trimEnd().split('\n').at(-1) ?? '')
      .toContain('/to-loki');
    const lines = (await readFile(jsonFile, 'utf8')).trimEnd().split('\n');
    // Every record stored so far, each a record as the shared schema has it.
    expect(lines).toHaveLength(10_000 + 3 + 100 + 1 + 1);
    const last = accessLogRecordSchema.parse(JSON.parse(lines.at(-1) ?? ''));
    expect(last).toMatchObject({ path: '/to-loki', user: 'alice', country: 'DE', node: 'edge-a' });
  });

  it('gatehouse logs and gatehouse analytics print them', async () => {
    await t.gh.accessLog.ingest([rec({ time: Date.now(), status: 502, path: '/from-cli', service: 'cli' })]);
    const l = await cli(t.dataDir, ['logs', '--service', 'cli', '--status', '5xx']);
    expect(l.code, l.out).toBe(0);
    expect(l.out).toMatch(/502 +GET +web\.gw\.test\/from-cli/);
    const bad = await cli(t.dataDir, ['logs', '--status', '6xx']);
    expect(bad.code).not.toBe(0);
    expect(bad.out).toContain('status');
    const a = await cli(t.dataDir, ['analytics', '--window', '1h', '--service', 'cli']);
    expect(a.code, a.out).toBe(0);
    expect(a.out).toContain('requests 1  5xx 1 (100.00%)');
    // --follow prints what arrives after it started.
    const root = resolve(import.meta.dirname, '..', '..');
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_')));
    const p = spawn(
      process.execPath,
      [
        join(root, 'bin', 'gatehouse.js'),
        '--data-dir',
        t.dataDir,
        'logs',
        '--service',
        'cli',
        '-n',
        '1',
        '--follow',
      ],
      { env },
    );
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await expect.poll(() => out, { timeout: 10_000 }).toContain('/from-cli');
      // The stream is open once the first line is printed; records go to it from then on.
      await new Promise((r) => setTimeout(r, 300));
      await t.gh.accessLog.ingest([rec({ time: Date.now(), path: '/followed', service: 'cli' })]);
      await expect.poll(() => out, { timeout: 10_000 }).toContain('/followed');
    } finally {
      p.kill();
    }
  });
});
