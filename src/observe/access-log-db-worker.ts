import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { openAccessLogDb, recordInserter } from './access-log-sql.js';
import type { AccessLogRecord } from '../model/access-log.js';
import { yieldToRequests } from './thread-priority.js';
import type { HostedJobModule } from './access-log-thread.js';

/**
 * A thread of the access log store (access-log-thread.ts): the writer (inserts, retention, and the
 * control plane's own access log reader, a job it hosts: 'host') or a reader (queries),
 * each with its own connection to the file. The local reader runs here rather than in a thread of
 * its own because every thread is an isolate (~8 MB here), and its batches go into this file anyway.
 */
const init = workerData as { file: string; reader: boolean; yieldToRequests: boolean };
const port = parentPort as MessagePort;
const db = openAccessLogDb(init.file, init.reader);
// The writer yields to nginx under a full load; queries (the UI's) do not.
if (!init.reader && init.yieldToRequests) yieldToRequests(() => undefined);

const insertAll = init.reader ? undefined : recordInserter(db);
const oldestKept = (n: number) =>
  db.prepare('select id from access_log order by id desc limit 1 offset ?').pluck().get(n) as
    number | undefined;
const count = () => db.prepare('select count(*) from access_log').pluck().get() as number;
const pragma = (name: string) => db.pragma(name, { simple: true }) as number;
const usedBytes = () => (pragma('page_count') - pragma('freelist_count')) * pragma('page_size');

function retain(m: { cutoff: number; maxRows: number; maxBytes: number }) {
  let dropped = 0;
  if (m.cutoff > 0) dropped += db.prepare('delete from access_log where time < ?').run(m.cutoff).changes;
  const edge = oldestKept(m.maxRows);
  if (edge !== undefined) dropped += db.prepare('delete from access_log where id <= ?').run(edge).changes;
  const used = usedBytes();
  if (used > m.maxBytes) {
    // Space: the oldest share past the limit, and a tenth more (freed pages are reused, the file
    // does not shrink: it stays at most about max_mb).
    const n = count();
    const share = Math.min(1, 1 - m.maxBytes / used + 0.1);
    const keep = Math.floor(n * (1 - share));
    const last = keep > 0 ? oldestKept(keep - 1) : undefined;
    dropped += (
      last === undefined
        ? db.prepare('delete from access_log').run()
        : db.prepare('delete from access_log where id < ?').run(last)
    ).changes;
  }
  return { dropped, rows: count(), bytes: usedBytes() };
}

const statements = new Map<string, Database.Statement<unknown[]>>();
const prepared = (sql: string) => {
  let s = statements.get(sql);
  if (!s) {
    s = db.prepare<unknown[]>(sql);
    if (statements.size > 200) statements.clear();
    statements.set(sql, s);
  }
  return s;
};

type Message =
  | { id: number; op: 'insert'; rows: AccessLogRecord[] }
  | { id: number; op: 'host'; module: string; init: object; port: MessagePort }
  | { id: number; op: 'all'; sql: string; params: unknown[] }
  | { id: number; op: 'retain'; cutoff: number; maxRows: number; maxBytes: number }
  | { id: number; op: 'close' };

/**
 * Runs a job in this thread, loaded from `module` (the caller names it: this folder knows no job),
 * talking to the caller over its own port, inserting through this thread's connection. The
 * control plane's access log reader is one (src/edge/access-log-reader-job.ts).
 */
function host(m: { id: number; module: string; init: object; port: MessagePort }): void {
  const fail = (err: unknown) =>
    port.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err) });
  if (!insertAll) return fail(new Error("the store's query thread does not run jobs"));
  const insert = insertAll;
  (import(m.module) as Promise<HostedJobModule>).then((job) => {
    job.runHosted(m.port, m.init, insert);
    port.postMessage({ id: m.id, result: null });
  }, fail);
}

port.on('message', (m: Message) => {
  if (m.op === 'host') return host(m);
  try {
    let result: unknown;
    if (m.op === 'insert') result = m.rows.length && insertAll ? insertAll(m.rows) : 0;
    else if (m.op === 'all') result = prepared(m.sql).all(...m.params);
    else if (m.op === 'retain') result = retain(m);
    else {
      db.close();
      port.postMessage({ id: m.id, result: null });
      port.close();
      return;
    }
    port.postMessage({ id: m.id, result });
  } catch (err) {
    port.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err) });
  }
});
port.postMessage({ id: 0, result: 'ready' });
