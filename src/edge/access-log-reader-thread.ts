import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import type { AccessLogPipelineOptions } from './access-log-pipeline.js';
import { RouteChanges, type RouteChange, type RouteIndex } from './access-log-routes.js';
import type { AccessLogRecord } from '../model/access-log.js';
import type { Logger } from '../observe/log.js';
import type { LogTailOptions } from '../observe/access-log-reader.js';
import { AccessLogStore } from '../observe/access-log-store.js';
import { startWorker } from '../observe/worker-boot.js';
import type { TrafficCountersWire } from '../observe/traffic-metrics.js';

/** What the reader is started with (its own thread's workerData, or the job the store's thread hosts). */
export interface ReaderThreadInit {
  file: string;
  node: string;
  seriesCap: number;
  /** The services' hosts and routes (not the whole config), then only what changed. */
  routes?: RouteChange | undefined;
  /** Batches for the main thread's sink as JSON (the sink has ingestJson), else as records. */
  relayJson: boolean;
  checkpoint?: string | false;
  tail?: LogTailOptions;
  batchMax?: number;
  flushMs?: number;
}

/** Main thread → reader thread. */
export type ToReader =
  | { kind: 'routes'; change: RouteChange }
  | { kind: 'poll' | 'stop'; id: number }
  | { kind: 'ingested'; id: number; error?: string };

/** Reader thread → main thread. */
export type FromReader =
  | { kind: 'ready' }
  | { kind: 'failed'; error: string }
  | { kind: 'counters'; wire: TrafficCountersWire }
  | { kind: 'kept'; count: number; last: number }
  | { kind: 'ingest'; id: number; records: readonly AccessLogRecord[] }
  | { kind: 'ingest-json'; id: number; json: string }
  | { kind: 'warn'; obj: object; msg: string }
  | { kind: 'done'; id: number; error?: string };

/** As the pipeline's own: `counters` are the main thread's, which the thread's are merged into. */
export type AccessLogReaderThreadOptions = Omit<AccessLogPipelineOptions, 'log' | 'routes'> & {
  log: Logger;
  /** The config the edge serves now (service and route names), undefined before the first. */
  config: () => RouteIndex | undefined;
};

/** The reader's job, as the store's writer thread loads it (TypeScript under the test runner). */
const JOB_MODULE = new URL(
  `./access-log-reader-job.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`,
  import.meta.url,
).href;

/** How often the config the edge serves is looked at (its service and route names). */
const CONFIG_MS = 250;

/**
 * An edge's access log pipeline (AccessLogPipeline) run in a thread at a low CPU priority: the
 * per-line work (parse, count, store) never runs on the event loop that serves the API, and never
 * takes a core from nginx when nginx needs it. When the sink is the log store, the pipeline runs in
 * the store's writer thread and inserts its batches there (the store is told which records were
 * kept, for the live tail); otherwise in a thread of its own, handing batches to `sink` here. The
 * thread's counters are merged into `counters` every 250 ms.
 */
export class AccessLogReaderThread {
  /** The other end: the reader's own thread, or a port into the store's writer thread. */
  private worker: Worker | MessagePort | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private timer: NodeJS.Timeout | undefined;
  private sentConfig: RouteIndex | undefined;
  private readonly changes = new RouteChanges();
  private stopping = false;

  constructor(private readonly o: AccessLogReaderThreadOptions) {}

  async start(): Promise<void> {
    const store = this.o.sink instanceof AccessLogStore ? this.o.sink : undefined;
    this.sentConfig = this.o.config();
    const init: ReaderThreadInit = {
      file: this.o.file,
      node: this.o.node,
      seriesCap: this.o.counters.cap,
      routes: this.sentConfig ? this.changes.next(this.sentConfig) : undefined,
      relayJson: this.o.sink.ingestJson !== undefined,
      ...(this.o.checkpoint !== undefined ? { checkpoint: this.o.checkpoint } : {}),
      ...(this.o.tail ? { tail: this.o.tail } : {}),
      ...(this.o.batchMax !== undefined ? { batchMax: this.o.batchMax } : {}),
      ...(this.o.flushMs !== undefined ? { flushMs: this.o.flushMs } : {}),
    };
    let worker: Worker | MessagePort;
    let ready: Promise<void>;
    if (store) {
      const { port1, port2 } = new MessageChannel();
      worker = port1;
      ready = this.listen(worker, store);
      await store.host(JOB_MODULE, init, port2);
    } else {
      worker = startWorker(import.meta.url, 'access-log-reader-worker', init);
      ready = this.listen(worker, store);
    }
    this.worker = worker;
    await ready;
    // A thread that stops (or a store thread that ends) fails what waits, and is told once.
    const stopped = () => {
      const err = new Error('the access log reader thread stopped');
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
      if (!this.stopping) this.o.log.error('the access log reader thread stopped');
    };
    if (store) worker.on('close', stopped);
    else {
      worker.on('error', (err) => this.o.log.error({ err: err.message }, 'access log reader thread failed'));
      worker.on('exit', stopped);
    }
    this.timer = setInterval(() => this.followConfig(), CONFIG_MS);
    this.timer.unref();
    worker.unref();
  }

  /** Hears the reader; settles with its start. */
  private listen(worker: Worker | MessagePort, store: AccessLogStore | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if ('terminate' in worker) {
        // Its own thread: one that fails to start says so here (after the start, no effect).
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`the access log reader thread exited (${code})`)));
      }
      worker.on('message', (m: FromReader) => {
        if (m.kind === 'ready') resolve();
        else if (m.kind === 'failed') reject(new Error(m.error));
        else this.onMessage(m, store);
      });
    });
  }

  private followConfig(): void {
    const cfg = this.o.config();
    if (!cfg || cfg === this.sentConfig) return;
    this.sentConfig = cfg;
    this.post({ kind: 'routes', change: this.changes.next(cfg) });
  }

  private post(m: ToReader): void {
    this.worker?.postMessage(m);
  }

  private onMessage(m: FromReader, store: AccessLogStore | undefined): void {
    switch (m.kind) {
      case 'counters':
        this.o.counters.merge(m.wire);
        return;
      case 'kept':
        store?.keptByOther(m.count, m.last);
        return;
      case 'ingest':
      case 'ingest-json':
        (m.kind === 'ingest' ? this.o.sink.ingest(m.records) : this.relayJson(m.json)).then(
          () => this.post({ kind: 'ingested', id: m.id }),
          (err: unknown) =>
            this.post({
              kind: 'ingested',
              id: m.id,
              error: err instanceof Error ? err.message : String(err),
            }),
        );
        return;
      case 'warn':
        this.o.log.warn(m.obj, m.msg);
        return;
      case 'done': {
        const w = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        if (m.error !== undefined) w?.reject(new Error(m.error));
        else w?.resolve();
        return;
      }
      default:
        return;
    }
  }

  private relayJson(json: string): Promise<void> {
    const sink = this.o.sink;
    return sink.ingestJson ? sink.ingestJson(json) : sink.ingest(JSON.parse(json) as AccessLogRecord[]);
  }

  private ask(kind: 'poll' | 'stop'): Promise<void> {
    const worker = this.worker;
    if (!worker) return Promise.resolve();
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      // A question waiting for its answer keeps the process alive until it has it.
      worker.ref();
      this.waiting.set(id, {
        resolve: () => {
          worker.unref();
          resolve();
        },
        reject: (e) => {
          worker.unref();
          reject(e);
        },
      });
      this.post({ kind, id });
    });
  }

  /** Reads what the file holds now, hands it over, and merges the counters (tests). */
  async poll(): Promise<void> {
    this.followConfig();
    await this.ask('poll');
  }

  /** Reads what is left, hands over the last batch, saves the position, ends the thread. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    const worker = this.worker;
    if (!worker) return;
    this.stopping = true;
    await this.ask('stop').catch((err: unknown) =>
      this.o.log.warn({ err: String(err) }, 'access log reader thread: the last lines not read'),
    );
    if ('terminate' in worker) await worker.terminate();
    else worker.close();
    this.worker = undefined;
  }
}
