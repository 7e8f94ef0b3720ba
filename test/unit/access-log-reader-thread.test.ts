import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AccessLogReaderThread } from '../../src/edge/access-log-reader-thread.js';
import type { AccessLogRecord } from '../../src/model/access-log.js';
import { AccessLogStore, type StoredAccessLog } from '../../src/observe/access-log-store.js';
import { createLogger } from '../../src/observe/log.js';
import { TrafficCounters } from '../../src/observe/traffic-metrics.js';
import { accessLine as line } from '../helpers/access-lines.js';
import { testDir } from '../helpers/tmp.js';

/** This process's threads: scheduling policy (5: SCHED_IDLE) and nice value, from /proc. */
function threads(): { policy: number; nice: number }[] {
  return readdirSync('/proc/self/task').flatMap((tid) => {
    try {
      const f = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      return [{ nice: Number(f[16]), policy: Number(f[38]) }];
    } catch {
      return []; // ended meanwhile
    }
  });
}

const idle = () => threads().filter((t) => t.policy === 5 && t.nice === 19).length;

/**
 * The control plane's own nginx log is read in the log store's writer thread (docs/observability.md);
 * a remote edge's agent reads its log in a thread of its own. The per-line work is off the event
 * loop and yields to nginx; the counters reach the main thread's TrafficCounters.
 */
describe('the access log reader thread', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  /** An empty nginx log, a log store in a file beside it, and a reader of the one into the other (not started). */
  async function storeAndReader(prefix: string) {
    const dir = await testDir(prefix);
    const file = join(dir, 'access.log');
    writeFileSync(file, '');
    // No retention by age: the lines' times are fixed, in the past.
    const store = await AccessLogStore.open({
      file: join(dir, 'access-log.sqlite'),
      retentionDays: 0,
      maxRows: 1000,
      maxMb: 100,
    });
    cleanup.push(() => store.close());
    const counters = new TrafficCounters();
    const reader = new AccessLogReaderThread({
      file,
      node: 'local',
      counters,
      sink: store,
      config: () => undefined,
      log: createLogger('silent'),
      tail: { pollMs: 60_000 },
    });
    return { file, store, reader, counters };
  }

  it('stores every line in the log store, counts it here, and tells the live tail', async () => {
    const before = idle();
    const { file, store, reader, counters } = await storeAndReader('gh-reader-thread-');
    const tailed: StoredAccessLog[] = [];
    store.subscribe({}, (r) => tailed.push(...r));
    const threadsBefore = threads().length;
    await reader.start();
    cleanup.push(() => reader.stop());
    // It runs in the store's writer thread: no thread more (each is an isolate, ~8 MB).
    expect(threads().length).toBe(threadsBefore);
    appendFileSync(file, line('/a') + line('/b', 502) + 'not a line of gh_main\n' + line('/c'));
    await reader.poll();
    expect(counters.lines).toBe(3);
    expect(counters.unparsed).toBe(1);
    const series = [...counters.all()];
    expect(series.reduce((n, s) => n + (s.requests[4] ?? 0), 0)).toBe(1);
    expect(series.reduce((n, s) => n + s.failures, 0)).toBe(1);
    const listed = await store.list({}, 10);
    expect(listed.map((r) => r.path)).toEqual(['/c', '/b', '/a']);
    expect(store.stats.records).toBe(3);
    await expect.poll(() => tailed.map((r) => r.path)).toEqual(['/a', '/b', '/c']);
    // The store's writer, where the reader runs, is at SCHED_IDLE, nice 19 (chrt runs at start).
    await expect.poll(() => idle(), { timeout: 5000 }).toBeGreaterThanOrEqual(before + 1);
  });

  it("stores a batch in time order when nginx's workers wrote their buffers out of order", async () => {
    const { file, store, reader } = await storeAndReader('gh-reader-order-');
    await reader.start();
    cleanup.push(() => reader.stop());
    // Worker 2's buffer (later requests) reached the file before worker 1's.
    const t = 1765100000;
    appendFileSync(file, line('/w2-a', 200, t + 0.5) + line('/w2-b', 200, t + 0.7));
    appendFileSync(
      file,
      line('/w1-a', 200, t + 0.1) + line('/w1-b', 200, t + 0.6) + line('/w1-c', 200, t + 0.6),
    );
    await reader.poll();
    // The log page lists newest first.
    expect((await store.list({}, 10)).map((r) => r.path)).toEqual([
      '/w2-b',
      '/w1-c',
      '/w1-b',
      '/w2-a',
      '/w1-a',
    ]);
  });

  it('hands batches to a sink that is not the store through the main thread', async () => {
    const dir = await testDir('gh-reader-thread-sink-');
    const file = join(dir, 'access.log');
    writeFileSync(file, '');
    const kept: AccessLogRecord[] = [];
    const counters = new TrafficCounters();
    const reader = new AccessLogReaderThread({
      file,
      node: 'local',
      counters,
      sink: {
        ingest: (records) => {
          kept.push(...records);
          return Promise.resolve();
        },
      },
      config: () => undefined,
      log: createLogger('silent'),
      tail: { pollMs: 60_000 },
    });
    await reader.start();
    appendFileSync(file, line('/x') + line('/y'));
    await reader.poll();
    expect(kept.map((r) => [r.path, r.status, r.client])).toEqual([
      ['/x', 200, '192.0.2.7'],
      ['/y', 200, '192.0.2.7'],
    ]);
    appendFileSync(file, line('/z'));
    // stop() reads what is left first.
    await reader.stop();
    expect(kept.map((r) => r.path)).toEqual(['/x', '/y', '/z']);
    expect(counters.lines).toBe(3);
  });

  it('hands a sender its batches as JSON, the counters merged before each batch', async () => {
    const dir = await testDir('gh-reader-thread-json-');
    const file = join(dir, 'access.log');
    writeFileSync(file, '');
    const counters = new TrafficCounters();
    const seen: { paths: string[]; counted: number }[] = [];
    const reader = new AccessLogReaderThread({
      file,
      node: 'local',
      counters,
      sink: {
        ingest: () => Promise.reject(new Error('not used: the sink takes JSON')),
        ingestJson: (json) => {
          const records = JSON.parse(json) as AccessLogRecord[];
          seen.push({ paths: records.map((r) => r.path), counted: counters.lines });
          return Promise.resolve();
        },
      },
      config: () => undefined,
      log: createLogger('silent'),
      tail: { pollMs: 60_000 },
    });
    await reader.start();
    cleanup.push(() => reader.stop());
    appendFileSync(file, line('/p') + line('/q'));
    await reader.poll();
    expect(seen).toEqual([{ paths: ['/p', '/q'], counted: 2 }]);
  });
});
