import { existsSync, readFileSync } from 'node:fs';
import SQLite from 'better-sqlite3';
import {
  Kysely,
  Migrator,
  type Generated,
  SqliteDialect,
  sql,
  type MigrationProvider,
  type SqliteDatabase,
} from 'kysely';
import {
  CHECKPOINT_INTERVAL_MS,
  SELF_CHECKPOINT_PAGES,
  startCheckpointer,
  type Checkpointer,
} from './checkpoint.js';
import { migrations } from './migrations.js';

/** Table shapes. JSON columns hold text; the registry parses them with the model's schemas. */
export interface Database {
  services: {
    name: string;
    source: string;
    /** See ServiceMeta.owner. */
    owner: string;
    spec: string;
    created_at: string;
    updated_at: string;
  };
  versions: { version: number; at: string; actor: string; source: string; reason: string };
  changes: { version: number; name: string; before: string | null; after: string | null };
  meta: { key: string; value: string };
  users: {
    id: string;
    username: string;
    email: string;
    name: string;
    first_name: string;
    last_name: string;
    role: string;
    password_hash: string | null;
    /** TOTP secret, sealed with the data key. */
    totp_secret: string | null;
    /** JSON array of SHA-256 hashes of unused recovery codes. */
    recovery_codes: string;
    /** The last TOTP time step used to sign in: each code works once. */
    totp_last_step: number;
    /** The edge file that manages it (its owner name); empty when made through the API or CLI. */
    managed_by: string;
    disabled: number;
    created_at: string;
    updated_at: string;
  };
  groups: {
    name: string;
    description: string;
    created_at: string;
    /** The edge file that manages it (its owner name); empty when made through the API or CLI. */
    managed_by: string;
  };
  user_groups: { user_id: string; group_name: string };
  sessions: {
    id: string;
    user_id: string;
    created_at: string;
    expires_at: string;
    revoked_at: string | null;
    ip: string;
    user_agent: string;
    via: string;
  };
  /** Secrets Gatehouse generates (session signing key, ...), sealed with the data key. */
  secrets: { name: string; value: string; created_at: string };
  links: {
    id: string;
    service: string;
    token_hash: string;
    created_at: string;
    expires_at: string;
    max_ips: number;
    password_hash: string | null;
    note: string;
    revoked_at: string | null;
  };
  link_ips: { link_id: string; ip: string; first_at: string };
  providers: {
    name: string;
    label: string;
    issuer: string;
    client_id: string;
    /** Sealed with the data key. */
    client_secret: string;
    scopes: string;
    groups_claim: string;
    username_claim: string;
    /** JSON object: claim value → local group. */
    group_map: string;
    /** 1: provider groups named like a local group count too, unmapped. */
    groups_passthrough: number;
    created_at: string;
  };
  certificates: {
    id: string;
    /** JSON array of the names it covers (SANs), "*.example.com" for a wildcard. */
    names: string;
    source: string;
    fingerprint: string;
    not_before: string;
    not_after: string;
    /** Certificate and chain, PEM (public). */
    cert_pem: string;
    /** The private key, PEM, sealed with the data key. */
    key_sealed: string;
    created_at: string;
  };
  dns_providers: {
    name: string;
    type: string;
    /** The zone it may change (e.g. example.com): names under it are validated through it. */
    zone: string;
    /** JSON: the provider's settings without secrets. */
    config: string;
    /** The secret (TSIG key, API token), sealed with the data key. */
    secret_sealed: string;
    created_at: string;
  };
  /** Edge nodes that take their config from this control plane. */
  nodes: {
    name: string;
    role: string;
    token_hash: string;
    created_at: string;
    last_seen: string | null;
    address: string;
    applied_hash: string;
    last_error: string;
    /** The agent's Gatehouse version. */
    agent_version: string;
    /** Registry version of the config the node applied. */
    applied_version: number;
    /** Upstream servers the node's health checks find down (JSON array of `pool server`). */
    down_servers: string;
  };
  /** Which local user an OIDC identity (provider + subject) signs in as. */
  user_links: { provider: string; subject: string; user_id: string };
  link_uses: {
    id: Generated<number>;
    link_id: string;
    at: string;
    ip: string;
    user_agent: string;
    outcome: string;
  };
  events: {
    id: Generated<number>;
    at: string;
    kind: string;
    ip: string;
    username: string;
    detail: string;
    /** The host and path asked for ('' when the event has none, or predates them). */
    host: Generated<string>;
    path: Generated<string>;
  };
  /** Changes made through the management API: who, how, from where, what (never the body). */
  audit: {
    id: Generated<number>;
    at: string;
    actor: string;
    via: string;
    ip: string;
    method: string;
    path: string;
    status: number;
  };
}

export type Db = Kysely<Database>;

const provider: MigrationProvider = { getMigrations: async () => migrations };

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
 * database file gets a checkpoint thread (see checkpoint.ts); `checkpointMs` is its interval.
 */
export async function openSqlite(
  file: string,
  opts: { checkpointMs?: number; onCheckpointError?: (msg: string) => void } = {},
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
        ...(opts.onCheckpointError ? { onError: opts.onCheckpointError } : {}),
      });
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: keepStatements(sqlite, () => checkpointer?.stop()) }),
  });
  handles.set(db, sqlite);
  if (checkpointer) checkpointers.set(db, checkpointer);
  const { error } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) {
    await db.destroy();
    throw error instanceof Error ? error : new Error(String(error));
  }
  return db;
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

/** Integrity check for `doctor`. */
export async function checkDb(db: Db): Promise<string> {
  const { rows } = await sql<{ integrity_check: string }>`pragma integrity_check`.execute(db);
  const verdict = rows[0]?.integrity_check ?? 'unknown';
  if (verdict !== 'ok') throw new Error(`integrity check: ${verdict}`);
  const n = await db
    .selectFrom('services')
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirst();
  const v = await db
    .selectFrom('versions')
    .select((eb) => eb.fn.max('version').as('v'))
    .executeTakeFirst();
  return `ok (version ${String(v?.v ?? 0)}, ${String(n?.n ?? 0)} services)`;
}

/** Whether an admin can sign in to the web UI (enabled, with a password): else the first run hint. */
export async function hasAdmin(db: Db): Promise<boolean> {
  const row = await db
    .selectFrom('users')
    .select('id')
    .where('role', '=', 'admin')
    .where('disabled', '=', 0)
    .where('password_hash', 'is not', null)
    .executeTakeFirst();
  return row !== undefined;
}
