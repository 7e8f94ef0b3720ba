import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, type Transaction } from 'kysely';
import { GatehouseError } from '../model/errors.js';
import {
  BACKUP_TABLES,
  backupFiles,
  backupHead,
  loadRows,
  readBackup,
  writeBackupFiles,
  type BackupHeaderLine,
  type BackupProgress,
} from './backup.js';
import { resetSerial, rowCounts, serialColumns, storeTables } from './copy.js';
import type { Database } from './db.js';
import { openDatabase } from './open.js';
import { openPostgresForCheck, redactUrl } from './postgres.js';

/**
 * `gatehouse backup restore` with `database_url` set: the backup goes into an empty PostgreSQL
 * database. Its rows are first loaded into an in-memory SQLite store at the backup's own schema and
 * migrated there (so a backup from an older Gatehouse goes through the same migrations as a SQLite
 * restore); the target is migrated to this Gatehouse's schema and then filled from that stage in one
 * transaction, with the serial sequences moved past the restored ids. The data dir files (data.key,
 * the token hashes) are written only once the database has committed.
 */
export async function restoreBackupToPostgres(
  buf: Buffer,
  passphrase: string,
  url: string,
  dataDir: string,
  progress: BackupProgress = () => undefined,
): Promise<BackupHeaderLine> {
  const lines = readBackup(buf, passphrase);
  const head = backupHead(lines);
  const files = backupFiles(lines);
  const label = redactUrl(url);
  refuseOtherKey(dataDir, files);
  await refuseNonEmpty(url, label);

  const stage = new Kysely<Database>({ dialect: new SqliteDialect({ database: new SQLite(':memory:') }) });
  try {
    await loadRows(stage, head, lines);
    const dst = await openDatabase(url);
    try {
      const serials = await serialColumns(dst);
      await dst.transaction().execute(async (d) => {
        // Checked again inside the transaction: a Gatehouse started on it meanwhile wrote rows.
        const busy = [...(await rowCounts(d, BACKUP_TABLES))].filter(([, n]) => n > 0);
        if (busy.length > 0) throw notEmpty(label, busy);
        for (const table of BACKUP_TABLES) progress(table, await fill(stage, d, table));
        for (const { table, column } of serials) await resetSerial(d, table, column);
      });
    } finally {
      await dst.destroy();
    }
  } finally {
    await stage.destroy();
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writeBackupFiles(dataDir, files);
  return head;
}

/** The data dir must not hold another installation's data key: replacing it loses its secrets. */
function refuseOtherKey(dataDir: string, files: { file: string; data: Buffer }[]): void {
  const key = files.find((f) => f.file === 'data.key');
  const path = join(dataDir, 'data.key');
  if (key && existsSync(path) && !readFileSync(path).equals(key.data))
    throw new GatehouseError(
      'restore_not_empty',
      `${dataDir} holds another installation's data.key: restore into a new data dir (or move that file away)`,
      409,
    );
}

function notEmpty(label: string, busy: [string, number][]): GatehouseError {
  const list = busy.map(([t, n]) => `${t}: ${n}`).join(', ');
  return new GatehouseError(
    'restore_not_empty',
    `the database at ${label} is not empty (${list}): restore into an empty database`,
    409,
    [{ field: 'database_url', message: 'is not empty' }],
  );
}

/** Before anything is created there: the target must hold no rows (tables of a migrated, empty store are fine). */
async function refuseNonEmpty(url: string, label: string): Promise<void> {
  const db = await openPostgresForCheck(url);
  try {
    const counts = await rowCounts(db, await storeTables(db));
    const busy = [...counts].filter(([, n]) => n > 0);
    if (busy.length > 0) throw notEmpty(label, busy);
  } finally {
    await db.destroy();
  }
}

/** Copies one table from the stage into the target, in batches well under the parameter limit. */
async function fill(
  stage: Kysely<Database>,
  d: Transaction<Database>,
  table: (typeof BACKUP_TABLES)[number],
): Promise<number> {
  const rows = (await stage.selectFrom(table).selectAll().execute()) as Record<string, unknown>[];
  const first = rows[0];
  if (!first) return 0;
  const size = Math.max(1, Math.min(500, Math.floor(30_000 / Math.max(1, Object.keys(first).length))));
  for (let i = 0; i < rows.length; i += size) {
    try {
      await d
        .insertInto(table)
        .values(rows.slice(i, i + size) as never)
        .execute();
    } catch (err) {
      throw new GatehouseError(
        'restore_failed',
        `restoring ${table} failed, nothing was stored: ${err instanceof Error ? err.message : String(err)}`,
        500,
      );
    }
  }
  return rows.length;
}
