import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * WAL pages past which the writing connection checkpoints by itself (on the request path): only
 * if the checkpoint thread falls far behind or is gone. SQLite's default is 1,000 (~4 MB).
 */
export const SELF_CHECKPOINT_PAGES = 10_000;

/** How often the checkpoint thread copies the WAL into the database file. */
export const CHECKPOINT_INTERVAL_MS = 1_000;

/**
 * The thread's code (CommonJS, run with `eval`: the same from src/ under the test runner and from
 * dist/). Its own connection runs PASSIVE checkpoints: they never wait for, or block, the writer;
 * the writer restarts the WAL from its start once a checkpoint has copied all of it. A closing
 * connection that is not the last one never checkpoints or removes the WAL.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
let stopping = false;
const pass = () => {
  // A connection per pass, closed at once: the writer's stays the last one open, so that closing it
  // at shutdown checkpoints and removes the WAL as without this thread.
  let db;
  try {
    db = new Database(workerData.file, { fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ kind: 'checkpoint', busy: r.busy, log: r.log, checkpointed: r.checkpointed });
  } catch (err) {
    parentPort.postMessage({ kind: 'error', error: String((err && err.message) || err) });
  } finally {
    if (db) db.close();
  }
};
const timer = setInterval(pass, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m === 'now' && !stopping) pass();
  if (m === 'stop' && !stopping) {
    stopping = true;
    clearInterval(timer);
    parentPort.close();
  }
});
`;

export interface CheckpointResult {
  /** Frames in the WAL, and how many of them are now in the database file. */
  log: number;
  checkpointed: number;
  /** 1 when the checkpoint could not finish (a reader or the writer held it back). */
  busy: number;
}

export interface Checkpointer {
  /** Checkpoints done so far, the last one's result, and the last error. */
  readonly stats: { passes: number; last?: CheckpointResult; error?: string };
  /** Whether the thread runs now (it runs while there is work: see startCheckpointer). */
  readonly running: boolean;
  /** Runs a checkpoint now (starting the thread if it rests); resolves with its result. */
  now(): Promise<CheckpointResult>;
  /** Stops the thread (a checkpoint under way finishes first). */
  stop(): void;
}

/** How long the thread outlives the last write once it has copied the whole WAL. */
export const CHECKPOINT_IDLE_MS = 30_000;

/**
 * Runs WAL checkpoints for the database `file` in a worker thread, off the request path: the
 * writer's commits only append to the WAL (synchronous=NORMAL: no fsync), and the thread copies the
 * WAL into the database and syncs it. Nothing committed can be lost by this: a commit is in the WAL
 * before it is answered, and a crash at any point is recovered from the WAL on the next open. The
 * thread never keeps the process alive.
 *
 * The thread runs only while there is work: each thread is an isolate (~6–8 MB resident), and a
 * registry at rest writes nothing. Every interval the main thread looks at the WAL file (one stat):
 * a write starts the thread; once the WAL has not changed for `idleMs` and a pass after the last
 * write copied all of it, the thread ends.
 */
export function startCheckpointer(
  file: string,
  opts: { intervalMs?: number; idleMs?: number; onError?: (msg: string) => void } = {},
): Checkpointer {
  const module = createRequire(import.meta.url).resolve('better-sqlite3');
  const intervalMs = opts.intervalMs ?? CHECKPOINT_INTERVAL_MS;
  const idleMs = opts.idleMs ?? CHECKPOINT_IDLE_MS;
  const stats: Checkpointer['stats'] = { passes: 0 };
  const waiting: { resolve: (r: CheckpointResult) => void; reject: (e: Error) => void }[] = [];
  const failed = (msg: string) => {
    // Told once per distinct error, not every interval.
    if (stats.error !== msg) opts.onError?.(msg);
    stats.error = msg;
    for (const w of waiting.splice(0)) w.reject(new Error(`checkpoint: ${msg}`));
  };
  let worker: Worker | undefined;
  let stopped = false;
  let lastPassAt = 0;

  const start = (): Worker => {
    const w = new Worker(WORKER, {
      eval: true,
      // None of the main program's flags: `--input-type=module` would make this code ESM, and some
      // (`--expose-gc`) are refused in a worker.
      execArgv: [],
      workerData: { file, module, intervalMs },
    });
    w.unref();
    w.on('message', (m: { kind: string; error?: string } & CheckpointResult) => {
      if (m.kind === 'error') return failed(m.error ?? 'unknown');
      const last = { log: m.log, checkpointed: m.checkpointed, busy: m.busy };
      stats.passes += 1;
      stats.last = last;
      lastPassAt = Date.now();
      for (const p of waiting.splice(0)) p.resolve(last);
    });
    w.on('error', (err) => failed(err.message));
    w.on('exit', () => {
      if (worker === w) worker = undefined;
    });
    return w;
  };
  const end = () => {
    worker?.postMessage('stop');
    worker = undefined;
  };

  // The WAL's size and time of change: a commit changes both (frames are appended, or written
  // again from the start once a checkpoint copied them all); a checkpoint changes neither.
  const stamp = () => {
    const st = statSync(`${file}-wal`, { bigint: true, throwIfNoEntry: false });
    return st ? `${st.size}:${st.mtimeNs}` : '';
  };
  let seen = stamp();
  let lastWriteAt = Date.now();
  // The database was just opened: what its WAL holds (from before a crash) gets copied too.
  worker = start();
  const watch = setInterval(() => {
    const now = stamp();
    if (now !== seen) {
      seen = now;
      lastWriteAt = Date.now();
      worker ??= start();
    } else if (worker && Date.now() - lastWriteAt > idleMs && lastPassAt > lastWriteAt) {
      const last = stats.last;
      if (last && last.busy === 0 && last.checkpointed === last.log) end();
    }
  }, intervalMs);
  watch.unref();

  return {
    stats,
    get running() {
      return worker !== undefined;
    },
    now: () =>
      new Promise<CheckpointResult>((resolve, reject) => {
        if (stopped) return reject(new Error('checkpoint: stopped'));
        waiting.push({ resolve, reject });
        (worker ??= start()).postMessage('now');
      }),
    stop: () => {
      stopped = true;
      clearInterval(watch);
      end();
    },
  };
}
