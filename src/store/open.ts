import type { Settings } from '../model/settings.js';
import { dbFile } from './data-dir.js';
import type { Db } from './db.js';
import { openPostgres } from './postgres.js';
import { openSqlite } from './sqlite.js';

export interface OpenOptions {
  onCheckpointError?: (msg: string) => void;
}

/** Whether `target` names a PostgreSQL database (else it is a SQLite file). */
export function isPostgresUrl(target: string): boolean {
  return /^postgres(ql)?:\/\//i.test(target);
}

/**
 * Opens Gatehouse's store: PostgreSQL when `database_url` is set (or `target` is a postgres:// URL),
 * else SQLite in the data dir (or the file `target` names).
 */
export async function openDatabase(
  target: Pick<Settings, 'data_dir' | 'database_url'> | string,
  opts: OpenOptions = {},
): Promise<Db> {
  const where = typeof target === 'string' ? target : (target.database_url ?? dbFile(target.data_dir));
  if (isPostgresUrl(where)) return openPostgres(where);
  return openSqlite(where, opts.onCheckpointError ? { onCheckpointError: opts.onCheckpointError } : {});
}
