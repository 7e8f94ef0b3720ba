import type { Kysely, Migration } from 'kysely';

/** Migrations from 0015: sites, VPN clients, alerts, API keys, link bandwidth, sign-in links. */
export const laterMigrations: Record<string, Migration> = {
  '0015_sites': {
    // WireGuard sites (a network behind NAT dialling out to the public edges) and the tunnel end of
    // each public edge. Only public keys are stored: each side keeps its private key on its own disk.
    // Subnets are a JSON array of IPv4 blocks; times are ISO text like every other column.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('sites')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('subnets', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('address', 'text', (c) => c.notNull().unique())
        .addColumn('public_key', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_seen', 'text')
        .addColumn('last_handshake', 'text')
        .execute();
      await db.schema
        .createTable('vpn_edges')
        .addColumn('node', 'text', (c) => c.primaryKey())
        .addColumn('public_key', 'text', (c) => c.notNull())
        .addColumn('address', 'text', (c) => c.notNull().unique())
        .addColumn('endpoint', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0016_vpn_clients': {
    // VPN clients (Envoyage): a device with a WireGuard config the control plane made. Only the
    // public key is kept (the private key is in the config, shown once). Policy is its text form
    // (`full`, `services:a,b`, `ports:22,80`); times are ISO text like every other column.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('vpn_clients')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('device_group', 'text')
        .addColumn('policy', 'text', (c) => c.notNull().defaultTo('full'))
        .addColumn('address', 'text', (c) => c.notNull().unique())
        .addColumn('public_key', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .execute();
    },
  },
  '0017_site_to_site': {
    // Site-to-site (docs/sites.md): a site that opts in reaches the other opted-in sites' subnets
    // through the public edges (its hubs), and they reach its. 0: off, 1: on.
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('sites')
        .addColumn('site_to_site', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
    },
  },
  '0018_vpn_groups': {
    // Device groups of VPN clients: a policy (text form, as vpn_clients.policy) that every client
    // of the group without its own follows. A client's empty policy ('') means exactly that.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('vpn_groups')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('policy', 'text', (c) => c.notNull().defaultTo('full'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0019_alert_channels': {
    // Where alerts are sent (docs/alerts.md): the settings without secrets as JSON, the secrets sealed.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('alert_channels')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('config', 'text', (c) => c.notNull())
        .addColumn('secret_sealed', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0020_api_keys': {
    // Keys for headless clients (docs/api-keys.md): nginx checks them against files the gate writes.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('api_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull().unique())
        .addColumn('services', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('revoked_at', 'text')
        .execute();
    },
  },
  '0021_link_bandwidth': {
    // A temporary link's bandwidth limit for the addresses it admits (nginx's limit_rate).
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('links').addColumn('bandwidth', 'text').execute();
    },
  },
  '0022_magic_links': {
    // Sign-in links sent by email (docs/magic-links.md): hashes only, each usable once.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('magic_links')
        .addColumn('token_hash', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('nonce_hash', 'text', (c) => c.notNull())
        .addColumn('rd', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('used_at', 'text')
        .execute();
    },
  },
};
