import type { MessagePort } from 'node:worker_threads';
import type { AccessLogRecord, AccessLogSink } from '../model/access-log.js';
import { TrafficCounters } from '../observe/traffic-metrics.js';
import { AccessLogPipeline, type PipelineLog } from './access-log-pipeline.js';
import type { ReaderThreadInit, ToReader, FromReader } from './access-log-reader-thread.js';
import { RouteResolver } from './access-log-routes.js';

/**
 * The access log reader's work inside a thread (started by AccessLogReaderThread): the pipeline of
 * access-log-pipeline.ts — follow the file, parse, count, batch — talking to the main thread over
 * `port`. It runs in the log store's writer thread when the sink is the store, inserting its
 * batches with that thread's `insert` (access-log-db-worker.ts), or in a thread of its own
 * otherwise (a remote edge's agent: access-log-reader-worker.ts), handing batches back to the main
 * thread. Either thread runs at a lower CPU priority than nginx and the event loop. The counters go
 * to the main thread every COUNTERS_MS as the series that changed.
 */
const COUNTERS_MS = 250;

/** The store's writer thread runs the reader through this (HostedJobModule). */
export function runHosted(
  port: MessagePort,
  init: object,
  insert: (records: readonly AccessLogRecord[]) => number,
): void {
  runAccessLogReader(port, init as ReaderThreadInit, insert);
}

export function runAccessLogReader(
  port: MessagePort,
  init: ReaderThreadInit,
  insert?: (records: readonly AccessLogRecord[]) => number,
): void {
  const post = (m: FromReader) => port.postMessage(m);
  const routes = new RouteResolver();
  const counters = new TrafficCounters(init.seriesCap);
  let sentSeq = 0;
  const sendCounters = () => {
    if (counters.seq === sentSeq) return;
    const wire = counters.wire(sentSeq);
    sentSeq = counters.seq;
    post({ kind: 'counters', wire });
  };

  /** Batches the main thread keeps for us (a sink that is not the store's file), by id. */
  const relayed = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  let nextRelay = 1;

  const sink: AccessLogSink = insert
    ? {
        // async: a throw (the file busy past its timeout) becomes a refused batch.
        ingest: async (records) => {
          const last = insert(records);
          post({ kind: 'kept', count: records.length, last });
        },
      }
    : {
        ingest: (records) =>
          new Promise<void>((resolve, reject) => {
            const id = nextRelay++;
            relayed.set(id, { resolve, reject });
            // The counters first: a remote edge's sender sends them with the batch.
            sendCounters();
            post(
              init.relayJson
                ? { kind: 'ingest-json', id, json: JSON.stringify(records) }
                : { kind: 'ingest', id, records },
            );
          }),
      };

  // The pipeline's warnings, logged by the main thread's logger (no logger is loaded here).
  const log: PipelineLog = { warn: (obj, msg) => post({ kind: 'warn', obj, msg }) };

  const pipeline = new AccessLogPipeline({
    file: init.file,
    node: init.node,
    counters,
    sink,
    routes,
    log,
    ...(init.checkpoint !== undefined ? { checkpoint: init.checkpoint } : {}),
    ...(init.tail ? { tail: init.tail } : {}),
    ...(init.batchMax !== undefined ? { batchMax: init.batchMax } : {}),
    ...(init.flushMs !== undefined ? { flushMs: init.flushMs } : {}),
  });

  const timer = setInterval(sendCounters, COUNTERS_MS);

  async function run(m: ToReader): Promise<void> {
    if (m.kind === 'routes') {
      routes.apply(m.change);
      return;
    }
    if (m.kind === 'ingested') {
      const r = relayed.get(m.id);
      relayed.delete(m.id);
      if (m.error !== undefined) r?.reject(new Error(m.error));
      else r?.resolve();
      return;
    }
    try {
      if (m.kind === 'poll') await pipeline.poll();
      else {
        clearInterval(timer);
        await pipeline.stop();
      }
      sendCounters();
      post({ kind: 'done', id: m.id });
    } catch (err) {
      post({ kind: 'done', id: m.id, error: err instanceof Error ? err.message : String(err) });
    }
  }

  port.on('message', (m: ToReader) => void run(m));
  if (init.routes) routes.apply(init.routes);
  pipeline.start().then(
    () => post({ kind: 'ready' }),
    (err: unknown) => {
      clearInterval(timer);
      post({ kind: 'failed', error: err instanceof Error ? err.message : String(err) });
    },
  );
}
