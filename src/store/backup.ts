import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql, type MigrationProvider } from 'kysely';
import { GatehouseError } from '../model/errors.js';
import type { Database, Db } from './db.js';
import { migrations } from './migrations.js';

/**
 * Every table of the store, copied generically by name. Order matters on restore only for
 * readability (SQLite does not enforce foreign keys here); a unit test checks it names every table.
 */
export const BACKUP_TABLES = [
  'meta',
  'services',
  'versions',
  'changes',
  'users',
  'groups',
  'user_groups',
  'sessions',
  'secrets',
  'links',
  'link_ips',
  'link_uses',
  'providers',
  'user_links',
  'certificates',
  'dns_providers',
  'nodes',
  'events',
  'audit',
  'handovers',
  'sign_in_failures',
  'acme_challenges',
  'sites',
  'vpn_edges',
  'vpn_clients',
  'vpn_groups',
  'alert_channels',
  'api_keys',
  'magic_links',
] as const satisfies readonly (keyof Database)[];

/**
 * Data dir files that hold state: data.key opens sealed secrets; the generated tokens' hashes
 * (src/api/tokens.ts) keep the admin and register tokens working after a restore.
 */
export const BACKUP_FILES = [
  'data.key',
  'secrets/admin-token.sha256',
  'secrets/register-token.sha256',
] as const;

const MAGIC = Buffer.from('GHBK');
const FORMAT_VERSION = 1;
const SALT_LEN = 16;
const NONCE_LEN = 12;
const TAG_LEN = 16;
const HEADER_LEN = MAGIC.length + 1 + SALT_LEN + NONCE_LEN;
const MIGRATION_TABLE = 'kysely_migration';

export interface BackupHeaderLine {
  kind: 'gatehouse-backup';
  gatehouse: string;
  created_at: string;
  migrations: string[];
}

export interface BackupProgress {
  (what: string, rows: number): void;
}

function keyOf(passphrase: string, salt: Buffer): Buffer {
  if (!passphrase) throw new GatehouseError('backup_passphrase', 'the backup passphrase is empty', 400);
  return scryptSync(passphrase, salt, 32);
}

/**
 * Writes the encrypted file: header (magic, format version, salt, nonce), AES-256-GCM ciphertext of
 * JSON lines, then the tag. Lines are encrypted as they come, so a big table is not held twice.
 */
export class BackupWriter {
  private readonly fd: number;
  private readonly cipher;
  constructor(file: string, passphrase: string) {
    const salt = randomBytes(SALT_LEN);
    const nonce = randomBytes(NONCE_LEN);
    this.cipher = createCipheriv('aes-256-gcm', keyOf(passphrase, salt), nonce);
    this.fd = openSync(file, 'w', 0o600);
    chmodSync(file, 0o600);
    writeSync(this.fd, Buffer.concat([MAGIC, Buffer.from([FORMAT_VERSION]), salt, nonce]));
  }
  line(value: unknown): void {
    const out = this.cipher.update(JSON.stringify(value) + '\n', 'utf8');
    if (out.length) writeSync(this.fd, out);
  }
  close(): void {
    const rest = this.cipher.final();
    if (rest.length) writeSync(this.fd, rest);
    writeSync(this.fd, this.cipher.getAuthTag());
    closeSync(this.fd);
  }
}

/**
 * Decrypts a whole backup and checks its tag before any line is trusted (GCM authenticates only at
 * the end, so nothing is parsed until then).
 */
export function readBackup(buf: Buffer, passphrase: string): unknown[] {
  if (buf.length < HEADER_LEN + TAG_LEN || !buf.subarray(0, MAGIC.length).equals(MAGIC))
    throw new GatehouseError('backup_format', 'not a Gatehouse backup file', 400);
  const version = buf[MAGIC.length];
  if (version !== FORMAT_VERSION)
    throw new GatehouseError(
      'backup_format',
      `backup format ${String(version)} is not known to this Gatehouse`,
      400,
    );
  let at = MAGIC.length + 1;
  const salt = buf.subarray(at, (at += SALT_LEN));
  const nonce = buf.subarray(at, (at += NONCE_LEN));
  const body = buf.subarray(at, buf.length - TAG_LEN);
  const decipher = createDecipheriv('aes-256-gcm', keyOf(passphrase, salt), nonce);
  decipher.setAuthTag(buf.subarray(buf.length - TAG_LEN));
  let plain: Buffer;
  try {
    plain = Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    throw new GatehouseError(
      'backup_passphrase',
      'the backup does not open with this passphrase (wrong passphrase, or the file was changed)',
      400,
    );
  }
  return plain
    .toString('utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as unknown);
}

/** The migrations applied to a database, in order. */
async function appliedMigrations(db: Kysely<unknown>): Promise<string[]> {
  const rows = await sql<{
    name: string;
  }>`select name from ${sql.table(MIGRATION_TABLE)} order by name`.execute(db);
  return rows.rows.map((r) => r.name);
}

/**
 * Writes a backup of the store and the data dir's state files. Reads in one transaction, so a
 * running Gatehouse's writes land either wholly in or wholly out of it.
 */
export async function createBackup(
  db: Db,
  dataDir: string,
  file: string,
  passphrase: string,
  version: string,
  progress: BackupProgress = () => undefined,
): Promise<void> {
  const w = new BackupWriter(file, passphrase);
  try {
    await db.transaction().execute(async (trx) => {
      const applied = await appliedMigrations(trx as unknown as Kysely<unknown>);
      const head: BackupHeaderLine = {
        kind: 'gatehouse-backup',
        gatehouse: version,
        created_at: new Date().toISOString(),
        migrations: applied,
      };
      w.line(head);
      for (const name of BACKUP_FILES) {
        const p = join(dataDir, name);
        if (existsSync(p)) w.line({ file: name, data: readFileSync(p).toString('base64') });
      }
      for (const table of BACKUP_TABLES) {
        const rows = await trx.selectFrom(table).selectAll().execute();
        for (const row of rows) w.line({ t: table, r: row });
        progress(table, rows.length);
      }
    });
  } finally {
    w.close();
  }
}

const provider: MigrationProvider = { getMigrations: async () => migrations };

/** Checks a backup's migrations against this binary's: a prefix of them, or refused. */
export function checkMigrations(backup: string[]): void {
  const known = Object.keys(migrations).sort();
  for (const [i, name] of backup.entries()) {
    if (known[i] !== name)
      throw new GatehouseError(
        'backup_too_new',
        `the backup was made with migration ${name}, which this Gatehouse does not know: restore it with a newer Gatehouse`,
        400,
      );
  }
}

/** The header line of a decrypted backup, checked against this binary's migrations. */
export function backupHead(lines: unknown[]): BackupHeaderLine {
  const head = lines[0] as BackupHeaderLine | undefined;
  if (!head || head.kind !== 'gatehouse-backup' || !Array.isArray(head.migrations))
    throw new GatehouseError('backup_format', 'the backup has no header line', 400);
  checkMigrations(head.migrations);
  return head;
}

/** Whether a store already holds services or users (then a restore into it is refused). */
export async function holdsData(db: Kysely<Database>): Promise<boolean> {
  return (
    (await db.introspection.getTables()).some((t) => t.name === 'services') &&
    ((await db.selectFrom('services').select('name').limit(1).execute()).length > 0 ||
      (await db.selectFrom('users').select('id').limit(1).execute()).length > 0)
  );
}

/**
 * Loads a backup's rows into a SQLite store: schema at the backup's migration, every row in one
 * transaction, then migrated to latest (a backup from an older schema goes through the migrations).
 */
export async function loadRows(
  db: Kysely<Database>,
  head: BackupHeaderLine,
  lines: unknown[],
  progress: BackupProgress = () => undefined,
): Promise<void> {
  const migrator = new Migrator({ db, provider });
  const last = head.migrations.at(-1);
  if (last) {
    const { error } = await migrator.migrateTo(last);
    if (error) throw error instanceof Error ? error : new Error(String(error));
  }
  const counts = new Map<string, number>();
  await db.transaction().execute(async (trx) => {
    for (const l of lines.slice(1)) {
      const o = l as { t?: string; r?: Record<string, unknown> };
      if (!o.t || !o.r) continue;
      if (!(BACKUP_TABLES as readonly string[]).includes(o.t))
        throw new GatehouseError('backup_format', `the backup names an unknown table ${o.t}`, 400);
      await trx
        .insertInto(o.t as (typeof BACKUP_TABLES)[number])
        .values(o.r as never)
        .execute();
      counts.set(o.t, (counts.get(o.t) ?? 0) + 1);
    }
  });
  for (const [t, n] of counts) progress(t, n);
  const { error } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
}

/** The data dir files a backup holds, checked against BACKUP_FILES. */
export function backupFiles(lines: unknown[]): { file: string; data: Buffer }[] {
  const out: { file: string; data: Buffer }[] = [];
  for (const l of lines.slice(1)) {
    const o = l as { file?: string; data?: string };
    if (!o.file || typeof o.data !== 'string') continue;
    if (!(BACKUP_FILES as readonly string[]).includes(o.file))
      throw new GatehouseError('backup_format', `the backup names an unknown file ${o.file}`, 400);
    out.push({ file: o.file, data: Buffer.from(o.data, 'base64') });
  }
  return out;
}

/** Writes a backup's data dir files (0600, directories 0700). */
export function writeBackupFiles(dataDir: string, files: { file: string; data: Buffer }[]): void {
  for (const { file, data } of files) {
    const target = join(dataDir, file);
    mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
    writeFileSync(target, data, { mode: 0o600 });
  }
}

/**
 * Restores a backup into an empty data dir's SQLite file: schema at the backup's migration, every
 * row in one transaction, then migrated to latest. Data dir files are written 0600.
 */
export async function restoreBackup(
  buf: Buffer,
  passphrase: string,
  dbPath: string,
  dataDir: string,
  progress: BackupProgress = () => undefined,
): Promise<BackupHeaderLine> {
  const lines = readBackup(buf, passphrase);
  const head = backupHead(lines);
  const files = backupFiles(lines);
  // Made only now: a wrong passphrase or a too-new backup leaves nothing behind.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: new SQLite(dbPath) }) });
  try {
    if (await holdsData(db))
      throw new GatehouseError(
        'restore_not_empty',
        `${dataDir} already holds services or users: restore into an empty installation`,
        409,
      );
    await loadRows(db, head, lines, progress);
  } finally {
    await db.destroy();
  }
  writeBackupFiles(dataDir, files);
  return head;
}
