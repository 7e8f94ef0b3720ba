import { PostgresAdapter, type Kysely, type Migration } from 'kysely';

/**
 * An autoincrement id: SQLite's `integer primary key autoincrement` (unchanged, so existing
 * databases see the same schema), PostgreSQL's `serial`.
 */
function idType(db: Kysely<unknown>): 'integer' | 'serial' {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'serial' : 'integer';
}

/** Migrations 0001 to 0014: the registry, the gate, certificates, DNS, nodes, the audit log, replicas. */
export const earlyMigrations: Record<string, Migration> = {
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
        .addColumn('id', idType(db), (c) =>
          idType(db) === 'serial' ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
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
        .addColumn('id', idType(db), (c) =>
          idType(db) === 'serial' ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
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
  '0012_audit': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('audit')
        .addColumn('id', idType(db), (c) =>
          idType(db) === 'serial' ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('via', 'text', (c) => c.notNull())
        .addColumn('ip', 'text', (c) => c.notNull())
        .addColumn('method', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('status', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_actor').on('audit').column('actor').execute();
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
  '0013_events_host_path': {
    async up(db: Kysely<unknown>) {
      for (const column of ['host', 'path'])
        await db.schema
          .alterTable('events')
          .addColumn(column, 'text', (c) => c.notNull().defaultTo(''))
          .execute();
    },
  },
  '0014_replica_shared_state': {
    // Short-lived sign-in and ACME state that every replica must see (a browser or the CA may reach
    // any replica): portal hand-over codes, sign-in failures counted for throttling, and HTTP-01
    // answers. Times are ISO text, like every other column, so both dialects compare them alike.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('handovers')
        .addColumn('code_hash', 'text', (c) => c.primaryKey())
        .addColumn('token', 'text', (c) => c.notNull())
        .addColumn('host', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('sign_in_failures')
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('sign_in_failures_key')
        .on('sign_in_failures')
        .columns(['key', 'at'])
        .execute();
      await db.schema
        .createTable('acme_challenges')
        .addColumn('token', 'text', (c) => c.primaryKey())
        .addColumn('key_authorization', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
};
