import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { AccessLogSink } from '../model/access-log.js';
import { openAccessLogDb, recordInserter } from '../observe/access-log-sql.js';
import { yieldToRequests } from '../observe/thread-priority.js';
import { TrafficCounters } from '../observe/traffic-metrics.js';
import { AccessLogPipeline, type PipelineLog } from './access-log-pipeline.js';
import type { ReaderThreadInit, ToReader, FromReader } from './access-log-reader-thread.js';
import { RouteResolver } from './access-log-routes.js';

/**
 * The access log reader's thread (started by AccessLogReaderThread): the pipeline of
 * access-log-pipeline.ts — follow the file, parse, count, batch — runs here, at a lower CPU
 * priority than nginx and the control plane's event loop. Batches go straight into the log store's
 * file (a connection of its own) or, for any other sink, back to the main thread; the counters go to
 * the main thread every COUNTERS_MS as the series that changed.
 */
const COUNTERS_MS = 250;

const port = parentPort as MessagePort;
const init = workerData as ReaderThreadInit;
const post = (m: FromReader) => port.postMessage(m);

yieldToRequests((message) => post({ kind: 'warn', obj: {}, msg: `access log thread: ${message}` }));

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

let sink: AccessLogSink;
if (init.storeFile) {
  const insert = recordInserter(openAccessLogDb(init.storeFile));
  sink = {
    // async: a throw (the file busy past its timeout) becomes a refused batch.
    ingest: async (records) => {
      const last = insert(records);
      post({ kind: 'kept', count: records.length, last });
    },
  };
} else {
  sink = {
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
}

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
  (err: unknown) => post({ kind: 'failed', error: err instanceof Error ? err.message : String(err) }),
);
