import type { MessagePort, Worker } from 'node:worker_threads';
import type { AccessLogRecord } from '../model/access-log.js';
import { startWorker } from './worker-boot.js';

/**
 * A module the store's writer thread can run a job of (AccessLogThread.host): it gets its port, its
 * start data, and the thread's insert (records in one transaction; the last row's id).
 */
export interface HostedJobModule {
  runHosted(port: MessagePort, init: object, insert: (records: readonly AccessLogRecord[]) => number): void;
}

type Message =
  | { op: 'insert'; rows: readonly object[] }
  | { op: 'host'; module: string; init: object; port: MessagePort }
  | { op: 'all'; sql: string; params: readonly (string | number)[] }
  | { op: 'retain'; cutoff: number; maxRows: number; maxBytes: number }
  | { op: 'close' };

export interface RetainResult {
  dropped: number;
  rows: number;
  bytes: number;
}

/**
 * One of the access log store's threads (access-log-db-worker.ts), as promises: each call is
 * answered in order. Writes, retention passes and queries run there, so a batch of 5,000 records
 * or an analytics query over a week never holds the event loop.
 */
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
  static async open(file: string, reader = false, yieldToRequests = true): Promise<AccessLogThread> {
    const worker = startWorker(import.meta.url, 'access-log-db-worker', { file, reader, yieldToRequests });
    const t = new AccessLogThread(worker);
    await new Promise<void>((resolve, reject) => {
      t.waiting.set(0, { resolve: () => resolve(), reject });
    });
    worker.unref();
    return t;
  }

  private call<T>(m: Message, transfer: MessagePort[] = []): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('the access log store is closed'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      // A call waiting for its answer keeps the process alive until it has it.
      if (this.waiting.size === 0) this.worker.ref();
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, ...m }, transfer);
    });
  }

  /** Inserts in one transaction; resolves with the last row's id (ids of one batch are consecutive). */
  insert(rows: readonly object[]): Promise<number> {
    return this.call<number>({ op: 'insert', rows });
  }

  /**
   * Runs a job of `module` (a URL; it exports runHosted: HostedJobModule) in this, the writer's,
   * thread, talking over `port` (the caller holds the other end); resolves once it is started.
   */
  host(module: string, init: object, port: MessagePort): Promise<void> {
    return this.call<void>({ op: 'host', module, init, port }, [port]);
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
