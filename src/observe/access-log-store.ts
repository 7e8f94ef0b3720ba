import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { AccessLogRecord, AccessLogSink } from '../model/access-log.js';
import type { Settings } from '../model/settings.js';
import type { MessagePort } from 'node:worker_threads';
import type { Logger } from './log.js';
import { matches, whereOf, type LogFilter } from './access-log-query.js';
import { AccessLogThread, type RetainResult } from './access-log-thread.js';

/** A stored record with its id (the cursor of the log page: newer records have larger ids). */
export type StoredAccessLog = AccessLogRecord & { id: number };

export interface AccessLogStoreOptions {
  /** The SQLite file; ':memory:' for a store that is not kept. */
  file: string;
  retentionDays: number;
  maxRows: number;
  maxMb: number;
  /** `off`, `stdout` or an absolute file path: each record as a JSON line too. */
  json?: string;
  /** How often retention runs (default a minute). */
  retainEveryMs?: number;
  /**
   * Whether the writer thread yields to nginx (SCHED_IDLE, nice 19; default true). Off only to
   * measure the store's own capacity on a machine other work keeps busy (a test).
   */
  yieldToRequests?: boolean;
  /** How long the query thread outlives its last query (default READER_IDLE_MS). */
  queryThreadIdleMs?: number;
  log?: Logger;
  /** The clock (tests). */
  now?: () => number;
}

/** The file in the data dir. */
export const accessLogFile = (dataDir: string): string => join(dataDir, 'access-log.sqlite');

const DAY = 86_400_000;
/** The query thread ends after this long without a query (each thread is an isolate, ~8 MB). */
const READER_IDLE_MS = 30_000;

/**
 * The control plane's access log store (docs/logs.md): the AccessLogSink every edge's log reader
 * feeds. Records are kept in their own SQLite file in the data dir, written by a thread of its own
 * (a batch in one transaction), and dropped by age and size. The live tail's subscribers hear each
 * batch once it is stored. Queries run in a second thread on the same file, started by the first
 * query and ended when none came for READER_IDLE_MS.
 */
export class AccessLogStore implements AccessLogSink {
  private readonly subscribers = new Set<(records: readonly StoredAccessLog[]) => void>();
  private timer: NodeJS.Timeout | undefined;
  private out: WriteStream | undefined;
  private retaining: Promise<RetainResult> | undefined;
  /** Records stored and batches, since start (tests and the bench). */
  readonly stats = { records: 0, batches: 0, dropped: 0 };

  /** Where queries run, while it runs: a second thread on the same file. */
  private reader: Promise<AccessLogThread> | undefined;
  private readerIdle: NodeJS.Timeout | undefined;
  private queries = 0;
  private closed = false;

  private constructor(
    private readonly thread: AccessLogThread,
    private readonly opts: AccessLogStoreOptions,
  ) {}

  static async open(opts: AccessLogStoreOptions): Promise<AccessLogStore> {
    const store = new AccessLogStore(
      await AccessLogThread.open(opts.file, false, opts.yieldToRequests ?? true),
      opts,
    );
    if (opts.json && opts.json !== 'off' && opts.json !== 'stdout') {
      store.out = createWriteStream(opts.json, { flags: 'a', mode: 0o640 });
      store.out.on('error', (err) => opts.log?.error({ err: err.message }, 'access log JSON file'));
    }
    await store.retain();
    store.timer = setInterval(() => {
      store
        .retain()
        .catch((err: unknown) => opts.log?.warn({ err: String(err) }, 'access log retention failed'));
    }, opts.retainEveryMs ?? 60_000);
    store.timer.unref();
    return store;
  }

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  async ingest(records: readonly AccessLogRecord[]): Promise<void> {
    if (records.length === 0) return;
    const last = await this.thread.insert(records);
    this.stats.records += records.length;
    this.stats.batches += 1;
    const first = last - records.length + 1;
    const stored = records.map((r, i) => ({ ...r, id: first + i }));
    this.writeJson(records);
    for (const s of this.subscribers) s(stored);
  }

  /**
   * Runs a job in the store's writer thread (AccessLogThread.host): the control plane's access log
   * reader (AccessLogReaderThread holds `port`'s other end), which inserts its batches itself and
   * tells keptByOther() of each.
   */
  host(module: string, init: object, port: MessagePort): Promise<void> {
    return this.thread.host(module, init, port);
  }

  /**
   * `count` records up to id `last` were inserted in the writer's thread by the reader it hosts
   * (host): counted, and read back for the live tail and the JSON lines only when someone
   * listens.
   */
  keptByOther(count: number, last: number): void {
    this.stats.records += count;
    this.stats.batches += 1;
    if (this.subscribers.size === 0 && (!this.opts.json || this.opts.json === 'off')) return;
    this.read<StoredAccessLog>('select * from access_log where id between ? and ? order by id', [
      last - count + 1,
      last,
    ]).then(
      (stored) => {
        this.writeJson(stored.map(({ id: _id, ...r }) => r));
        for (const s of this.subscribers) s(stored);
      },
      (err: unknown) => this.opts.log?.warn({ err: String(err) }, 'access log records not read back'),
    );
  }

  private writeJson(records: readonly AccessLogRecord[]): void {
    const json = this.opts.json;
    if (!json || json === 'off') return;
    let text = '';
    for (const r of records) text += `${JSON.stringify(r)}\n`;
    if (json === 'stdout') process.stdout.write(text);
    else this.out?.write(text);
  }

  /** Hears every stored record passing `filter` (the live tail); returns the unsubscribe. */
  subscribe(filter: LogFilter, fn: (records: StoredAccessLog[]) => void): () => void {
    const s = (records: readonly StoredAccessLog[]) => {
      const hit = records.filter((r) => matches(filter, r));
      if (hit.length) fn(hit);
    };
    this.subscribers.add(s);
    return () => this.subscribers.delete(s);
  }

  /** Newest first (by arrival), at most `limit`, older than id `before` when given. */
  async list(filter: LogFilter, limit: number, before?: number): Promise<StoredAccessLog[]> {
    const w = before !== undefined ? whereOf(filter, ['id < ?'], [before]) : whereOf(filter);
    // The columns are the record's fields and its id, nulls as nulls: rows are records as they are.
    return this.read<StoredAccessLog>(`select * from access_log${w.sql} order by id desc limit ?`, [
      ...w.params,
      limit,
    ]);
  }

  /** Runs a read on the store's query thread (analytics). */
  query<T>(sql: string, params: readonly (string | number)[]): Promise<T[]> {
    return this.read<T>(sql, params);
  }

  /** A read on the query thread, started if it is not running (the writer's own for ':memory:'). */
  private async read<T>(sql: string, params: readonly (string | number)[]): Promise<T[]> {
    if (this.opts.file === ':memory:') return this.thread.all<T>(sql, params);
    if (this.closed) throw new Error('the access log store is closed');
    if (this.readerIdle) clearTimeout(this.readerIdle);
    this.readerIdle = undefined;
    this.queries++;
    try {
      const started = (this.reader ??= AccessLogThread.open(this.opts.file, true));
      // A thread that failed to start is not kept: the next query tries again.
      const reader = await started.catch((err: unknown) => {
        if (this.reader === started) this.reader = undefined;
        throw err;
      });
      return await reader.all<T>(sql, params);
    } finally {
      if (--this.queries === 0 && !this.closed) {
        const idleMs = this.opts.queryThreadIdleMs ?? READER_IDLE_MS;
        this.readerIdle = setTimeout(() => void this.endReader(), idleMs);
        this.readerIdle.unref();
      }
    }
  }

  private async endReader(): Promise<void> {
    const reader = this.reader;
    this.reader = undefined;
    if (reader) await (await reader.catch(() => undefined))?.close();
  }

  /** Drops what is past the retention settings now; one pass at a time. */
  retain(): Promise<RetainResult> {
    if (this.retaining) return this.retaining;
    const days = this.opts.retentionDays;
    const cutoff = days > 0 ? this.now() - days * DAY : 0;
    this.retaining = this.thread
      .retain(cutoff, this.opts.maxRows, this.opts.maxMb * 1024 * 1024)
      .then((r) => {
        this.stats.dropped += r.dropped;
        if (r.dropped > 0) this.opts.log?.debug({ ...r }, 'access log records past retention dropped');
        return r;
      })
      .finally(() => {
        this.retaining = undefined;
      });
    return this.retaining;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.subscribers.clear();
    await this.retaining?.catch(() => undefined);
    this.closed = true;
    if (this.readerIdle) clearTimeout(this.readerIdle);
    await this.endReader();
    await this.thread.close();
    if (this.out) await new Promise<void>((resolve) => this.out?.end(resolve));
  }
}

/** The store as the settings configure it, in the data dir. */
export function openAccessLog(
  settings: Pick<
    Settings,
    'data_dir' | 'access_log_retention_days' | 'access_log_max_rows' | 'access_log_max_mb' | 'access_log_json'
  >,
  log: Logger,
): Promise<AccessLogStore> {
  return AccessLogStore.open({
    file: accessLogFile(settings.data_dir),
    retentionDays: settings.access_log_retention_days,
    maxRows: settings.access_log_max_rows,
    maxMb: settings.access_log_max_mb,
    json: settings.access_log_json,
    log,
  });
}
