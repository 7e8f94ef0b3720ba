import SQLite from 'better-sqlite3';
import {
  Kysely,
  Migrator,
  type Generated,
  SqliteDialect,
  sql,
  type Migration,
  type MigrationProvider,
} from 'kysely';

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
  };
}

export type Db = Kysely<Database>;

const migrations: Record<string, Migration> = {
  '0001_registry': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('services')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('versions')
        .addColumn('version', 'integer', (c) => c.primaryKey())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('changes')
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('before', 'text')
        .addColumn('after', 'text')
        .addPrimaryKeyConstraint('changes_pk', ['version', 'name'])
        .execute();
      await db.schema
        .createTable('meta')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0002_gate': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('username', 'text', (c) => c.notNull().unique())
        .addColumn('email', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('first_name', 'text', (c) => c.notNull())
        .addColumn('last_name', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('password_hash', 'text')
        .addColumn('totp_secret', 'text')
        .addColumn('recovery_codes', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('groups')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('user_groups')
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('group_name', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('user_groups_pk', ['user_id', 'group_name'])
        .execute();
      await db.schema
        .createTable('sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .addColumn('ip', 'text', (c) => c.notNull())
        .addColumn('user_agent', 'text', (c) => c.notNull())
        .addColumn('via', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('sessions_user').on('sessions').column('user_id').execute();
      await db.schema
        .createTable('secrets')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('events')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('ip', 'text', (c) => c.notNull())
        .addColumn('username', 'text', (c) => c.notNull())
        .addColumn('detail', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('events_at').on('events').column('at').execute();
    },
  },
  '0003_links': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('links')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('service', 'text', (c) => c.notNull())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('max_ips', 'integer', (c) => c.notNull())
        .addColumn('password_hash', 'text')
        .addColumn('note', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .execute();
      await db.schema
        .createTable('link_ips')
        .addColumn('link_id', 'text', (c) => c.notNull())
        .addColumn('ip', 'text', (c) => c.notNull())
        .addColumn('first_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('link_ips_pk', ['link_id', 'ip'])
        .execute();
      await db.schema
        .createTable('link_uses')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('link_id', 'text', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('ip', 'text', (c) => c.notNull())
        .addColumn('user_agent', 'text', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('link_uses_link').on('link_uses').column('link_id').execute();
    },
  },
  '0004_providers': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('providers')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('label', 'text', (c) => c.notNull())
        .addColumn('issuer', 'text', (c) => c.notNull())
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('client_secret', 'text', (c) => c.notNull())
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('groups_claim', 'text', (c) => c.notNull())
        .addColumn('username_claim', 'text', (c) => c.notNull())
        .addColumn('group_map', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('user_links')
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('user_links_pk', ['provider', 'subject'])
        .execute();
    },
  },
  '0006_certificates': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('certificates')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('names', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('not_before', 'text', (c) => c.notNull())
        .addColumn('not_after', 'text', (c) => c.notNull())
        .addColumn('cert_pem', 'text', (c) => c.notNull())
        .addColumn('key_sealed', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0007_dns_providers': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('dns_providers')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('zone', 'text', (c) => c.notNull())
        .addColumn('config', 'text', (c) => c.notNull())
        .addColumn('secret_sealed', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0008_nodes': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('nodes')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_seen', 'text')
        .addColumn('address', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('applied_hash', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('last_error', 'text', (c) => c.notNull().defaultTo(''))
        .execute();
    },
  },
  '0011_managed_identities': {
    async up(db: Kysely<unknown>) {
      for (const table of ['users', 'groups'])
        await db.schema
          .alterTable(table)
          .addColumn('managed_by', 'text', (c) => c.notNull().defaultTo(''))
          .execute();
    },
  },
  '0010_service_owner': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('services')
        .addColumn('owner', 'text', (c) => c.notNull().defaultTo(''))
        .execute();
    },
  },
  '0009_node_health': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('nodes')
        .addColumn('agent_version', 'text', (c) => c.notNull().defaultTo(''))
        .execute();
      await db.schema
        .alterTable('nodes')
        .addColumn('down_servers', 'text', (c) => c.notNull().defaultTo('[]'))
        .execute();
      await db.schema
        .alterTable('nodes')
        .addColumn('applied_version', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
    },
  },
  '0005_totp_step_passthrough': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('users')
        .addColumn('totp_last_step', 'integer', (c) => c.notNull().defaultTo(-1))
        .execute();
      await db.schema
        .alterTable('providers')
        .addColumn('groups_passthrough', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
    },
  },
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

/** Opens (creating if needed) the SQLite registry database and brings its schema up to date. */
export async function openSqlite(file: string): Promise<Db> {
  const sqlite = new SQLite(file);
  // WAL: readers never block the writer; NORMAL sync is durable across process crashes.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  const { error } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) {
    await db.destroy();
    throw error instanceof Error ? error : new Error(String(error));
  }
  return db;
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
  return `ok (${String(n?.n ?? 0)} services)`;
}
