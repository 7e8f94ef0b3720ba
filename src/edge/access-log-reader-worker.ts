import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { yieldToRequests } from '../observe/thread-priority.js';
import { runAccessLogReader } from './access-log-reader-job.js';
import type { FromReader, ReaderThreadInit } from './access-log-reader-thread.js';

/**
 * The access log reader in a thread of its own: where no log store runs beside it (a remote edge's
 * agent hands its batches to the sender on the main thread). On the control plane the reader runs
 * in the store's writer thread instead (access-log-db-worker.ts): one thread less.
 */
const port = parentPort as MessagePort;
yieldToRequests((message) =>
  port.postMessage({ kind: 'warn', obj: {}, msg: `access log thread: ${message}` } satisfies FromReader),
);
runAccessLogReader(port, workerData as ReaderThreadInit);
