import { existsSync, readFileSync } from 'node:fs';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, type SqliteDatabase } from 'kysely';
import {
  CHECKPOINT_INTERVAL_MS,
  SELF_CHECKPOINT_PAGES,
  startCheckpointer,
  type Checkpointer,
} from './checkpoint.js';
import type { Database, Db } from './db.js';
import { migratedOrClosed } from './migrate.js';

/** The better-sqlite3 handle under each database `openSqlite` opened. */
const handles = new WeakMap<Db, SQLite.Database>();
/** The checkpoint thread of each database file `openSqlite` opened. */
const checkpointers = new WeakMap<Db, Checkpointer>();

/** The checkpoint thread of `db` (none for a database in memory). */
export function checkpointerOf(db: Db): Checkpointer | undefined {
  return checkpointers.get(db);
}

/**
 * The better-sqlite3 handle under `db`, for writes that run synchronously in one transaction (the
 * registry's group commit). Only for databases `openSqlite` opened.
 */
export function sqliteOf(db: Db): SQLite.Database {
  const h = handles.get(db);
  if (!h) throw new Error('sqliteOf: not a database openSqlite opened');
  return h;
}

/**
 * Opens (creating if needed) the SQLite registry database and brings its schema up to date. A
 * database file gets a checkpoint thread (see checkpoint.ts); `checkpointMs` is its interval,
 * `checkpointIdleMs` how long it outlives the last write.
 */
export async function openSqlite(
  file: string,
  opts: { checkpointMs?: number; checkpointIdleMs?: number; onCheckpointError?: (msg: string) => void } = {},
): Promise<Db> {
  const sqlite = new SQLite(file);
  // WAL: readers never block the writer; NORMAL sync is durable across process crashes.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  const inMemory = file === '' || file === ':memory:';
  // Checkpoints run in their own thread; the writer checkpoints itself only if that falls far behind.
  if (!inMemory) sqlite.pragma(`wal_autocheckpoint = ${SELF_CHECKPOINT_PAGES}`);
  const checkpointer = inMemory
    ? undefined
    : startCheckpointer(file, {
        intervalMs: opts.checkpointMs ?? CHECKPOINT_INTERVAL_MS,
        ...(opts.checkpointIdleMs !== undefined ? { idleMs: opts.checkpointIdleMs } : {}),
        ...(opts.onCheckpointError ? { onError: opts.onCheckpointError } : {}),
      });
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: keepStatements(sqlite, () => checkpointer?.stop()) }),
  });
  handles.set(db, sqlite);
  if (checkpointer) checkpointers.set(db, checkpointer);
  return migratedOrClosed(db);
}

/** Prepared statements kept, at most this many (SQL built with lists of any length varies). */
const STATEMENTS_KEPT = 256;

/**
 * The database with its prepared statements kept by their SQL: Kysely prepares every query anew,
 * which costs about as much as running a small insert (a registration runs five statements).
 * Kysely runs one query at a time on its one connection, so a kept statement is never reused while
 * it is still being iterated; SQLite prepares a statement again by itself when the schema changed.
 */
function keepStatements(sqlite: SQLite.Database, onClose: () => void): SqliteDatabase {
  const kept = new Map<string, SQLite.Statement>();
  return {
    close: () => {
      onClose();
      sqlite.close();
    },
    prepare: (text) => {
      let stmt = kept.get(text);
      if (!stmt) {
        stmt = sqlite.prepare(text);
        if (kept.size >= STATEMENTS_KEPT) kept.clear();
        kept.set(text, stmt);
      }
      return stmt;
    },
  };
}

/**
 * Opens a database for reading without creating or changing any file (for `doctor`): SQLite's own
 * read-only open still creates -wal and -shm beside the file, so without a WAL in use it reads a
 * copy in memory (marked as a rollback-journal database, which memory can hold).
 */
export function openSqliteReadOnly(file: string): Db {
  let sqlite: SQLite.Database;
  if (existsSync(`${file}-wal`)) {
    // A running (or crashed) instance's WAL holds the latest writes; its -shm belongs with it.
    sqlite = new SQLite(file, { readonly: true, fileMustExist: true });
  } else {
    const copy = readFileSync(file);
    // Header bytes 18-19: file format versions; 2 = WAL, 1 = legacy.
    if (copy.length >= 20 && copy[18] === 2) copy[18] = copy[19] = 1;
    sqlite = new SQLite(copy, { readonly: true });
  }
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
}
