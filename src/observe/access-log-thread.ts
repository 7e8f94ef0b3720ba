import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * The access log store's thread: it owns the SQLite file (its own database, not the registry's:
 * see docs/logs.md) and does every write, retention pass and query there, so a batch of 5,000
 * records or an analytics query over a week never holds the event loop. CommonJS, run with
 * `eval` (the same from src/ under the test runner and from dist/), as src/store/checkpoint.ts.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file, workerData.reader ? { fileMustExist: true } : {});
if (workerData.file !== ':memory:' && !workerData.reader) {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
}
db.pragma('busy_timeout = 5000');
if (!workerData.reader) db.exec(\`
  create table if not exists access_log (
    id integer primary key autoincrement,
    time integer not null, node text not null, host text not null,
    service text, route text, method text not null, path text not null,
    status integer not null, duration_ms real not null,
    upstream text, upstream_ms real,
    bytes_in integer not null, bytes_out integer not null,
    client text not null, "user" text, country text
  );
  create index if not exists access_log_time on access_log(time);
  create index if not exists access_log_service_time on access_log(service, time);
\`);
const insert = workerData.reader ? undefined : db.prepare(\`insert into access_log
  (time, node, host, service, route, method, path, status, duration_ms, upstream, upstream_ms,
   bytes_in, bytes_out, client, "user", country)
  values (@time, @node, @host, @service, @route, @method, @path, @status, @duration_ms, @upstream,
   @upstream_ms, @bytes_in, @bytes_out, @client, @user, @country)\`);
const insertAll = workerData.reader ? undefined : db.transaction((rows) => {
  let last = 0;
  for (const r of rows) last = Number(insert.run(r).lastInsertRowid);
  return last;
});
const oldestKept = { get: (n) => db.prepare('select id from access_log order by id desc limit 1 offset ?').pluck().get(n) };
const count = { get: () => db.prepare('select count(*) from access_log').pluck().get() };
const usedBytes = () =>
  (db.pragma('page_count', { simple: true }) - db.pragma('freelist_count', { simple: true })) *
  db.pragma('page_size', { simple: true });
function retain(m) {
  let dropped = 0;
  if (m.cutoff > 0) dropped += db.prepare('delete from access_log where time < ?').run(m.cutoff).changes;
  const edge = oldestKept.get(m.maxRows);
  if (edge !== undefined) dropped += db.prepare('delete from access_log where id <= ?').run(edge).changes;
  const used = usedBytes();
  if (used > m.maxBytes) {
    // Space: the oldest share past the limit, and a tenth more (freed pages are reused, the file
    // does not shrink: it stays at most about max_mb).
    const n = count.get();
    const share = Math.min(1, 1 - m.maxBytes / used + 0.1);
    const keep = Math.floor(n * (1 - share));
    const last = keep > 0 ? oldestKept.get(keep - 1) : undefined;
    dropped += (last === undefined
      ? db.prepare('delete from access_log').run()
      : db.prepare('delete from access_log where id < ?').run(last)).changes;
  }
  return { dropped, rows: count.get(), bytes: usedBytes() };
}
const statements = new Map();
const prepared = (sql) => {
  let s = statements.get(sql);
  if (!s) {
    s = db.prepare(sql);
    if (statements.size > 200) statements.clear();
    statements.set(sql, s);
  }
  return s;
};
parentPort.on('message', (m) => {
  try {
    let result;
    if (m.op === 'insert') result = m.rows.length ? insertAll(m.rows) : 0;
    else if (m.op === 'all') result = prepared(m.sql).all(...m.params);
    else if (m.op === 'retain') result = retain(m);
    else if (m.op === 'close') {
      db.close();
      parentPort.postMessage({ id: m.id, result: null });
      parentPort.close();
      return;
    } else throw new Error('unknown op ' + m.op);
    parentPort.postMessage({ id: m.id, result });
  } catch (err) {
    parentPort.postMessage({ id: m.id, error: String((err && err.message) || err) });
  }
});
parentPort.postMessage({ id: 0, result: 'ready' });
`;

type Message =
  | { op: 'insert'; rows: readonly object[] }
  | { op: 'all'; sql: string; params: readonly (string | number)[] }
  | { op: 'retain'; cutoff: number; maxRows: number; maxBytes: number }
  | { op: 'close' };

export interface RetainResult {
  dropped: number;
  rows: number;
  bytes: number;
}

/** The thread, as promises: each call is answered in order. */
export class AccessLogThread {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private failure: Error | undefined;
  private closed = false;

  private constructor(worker: Worker) {
    this.worker = worker;
    worker.on('message', (m: { id: number; result?: unknown; error?: string }) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      // Nothing asked: the thread does not keep the process alive.
      if (this.waiting.size === 0) this.worker.unref();
      if (m.error !== undefined) w.reject(new Error(m.error));
      else w.resolve(m.result);
    });
    const fail = (err: Error) => {
      this.failure = err;
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', () => fail(new Error('the access log thread stopped')));
  }

  /**
   * Starts the thread on `file` (':memory:' for a store that lives as long as the process). A
   * `reader` opens a file the writer made, for queries only: with WAL it reads while the writer
   * writes, so a long analytics pass never holds back the batches edges send.
   */
  static async open(file: string, reader = false): Promise<AccessLogThread> {
    const module = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(WORKER, { eval: true, execArgv: [], workerData: { file, module, reader } });
    const t = new AccessLogThread(worker);
    await new Promise<void>((resolve, reject) => {
      t.waiting.set(0, { resolve: () => resolve(), reject });
    });
    worker.unref();
    return t;
  }

  private call<T>(m: Message): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('the access log store is closed'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      // A call waiting for its answer keeps the process alive until it has it.
      if (this.waiting.size === 0) this.worker.ref();
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, ...m });
    });
  }

  /** Inserts in one transaction; resolves with the last row's id (ids of one batch are consecutive). */
  insert(rows: readonly object[]): Promise<number> {
    return this.call<number>({ op: 'insert', rows });
  }

  all<T>(sql: string, params: readonly (string | number)[] = []): Promise<T[]> {
    return this.call<T[]>({ op: 'all', sql, params });
  }

  retain(cutoff: number, maxRows: number, maxBytes: number): Promise<RetainResult> {
    return this.call<RetainResult>({ op: 'retain', cutoff, maxRows, maxBytes });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (!this.failure) await this.call({ op: 'close' }).catch(() => undefined);
    this.closed = true;
    await this.worker.terminate();
  }
}
