import Database from 'better-sqlite3';
import type { AccessLogRecord } from '../model/access-log.js';

/**
 * The access log store's SQLite file (docs/logs.md): its own database, not the registry's. Opened
 * by the store's threads (access-log-db-worker.ts) and by the local access log reader's thread,
 * which inserts its batches itself (src/edge/access-log-reader-worker.ts).
 */
const SCHEMA = `
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
`;

/** Opens the file: a writer makes the table if needed; a reader wants it made. */
export function openAccessLogDb(file: string, reader = false): Database.Database {
  const db = new Database(file, reader ? { fileMustExist: true } : {});
  if (file !== ':memory:' && !reader) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
  }
  // The store's writer and the local reader's thread both write: one waits for the other.
  db.pragma('busy_timeout = 5000');
  if (!reader) db.exec(SCHEMA);
  return db;
}

/**
 * Inserts a batch in one transaction and returns the last row's id (a batch's ids are
 * consecutive). Values are bound by position: cheaper per row than by name.
 */
export function recordInserter(db: Database.Database): (rows: readonly AccessLogRecord[]) => number {
  const insert = db.prepare(`insert into access_log
    (time, node, host, service, route, method, path, status, duration_ms, upstream, upstream_ms,
     bytes_in, bytes_out, client, "user", country)
    values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  return db.transaction((rows: readonly AccessLogRecord[]) => {
    let last = 0;
    for (const r of rows)
      last = Number(
        insert.run(
          r.time,
          r.node,
          r.host,
          r.service,
          r.route,
          r.method,
          r.path,
          r.status,
          r.duration_ms,
          r.upstream,
          r.upstream_ms,
          r.bytes_in,
          r.bytes_out,
          r.client,
          r.user,
          r.country,
        ).lastInsertRowid,
      );
    return last;
  });
}
