import { Kysely, PostgresAdapter, type Generated, sql } from 'kysely';
import { migrationState } from './migrate.js';

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
    /** Bytes a second per connection of an admitted address, as given (`512k`); null: no limit. */
    bandwidth: string | null;
  };
  link_ips: { link_id: string; ip: string; first_at: string };
  /** Portal hand-over codes (one use, a minute): the code's SHA-256, the session token sealed with the data key. */
  handovers: { code_hash: string; token: string; host: string; expires_at: string };
  /** Failed sign-ins, one row each, counted per key (user, address) within the throttle's window. */
  sign_in_failures: { key: string; at: string };
  /** ACME HTTP-01 answers for orders in progress, served by every replica's nginx and edges. */
  acme_challenges: { token: string; key_authorization: string; created_at: string };
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
  /** Where alerts are sent (docs/alerts.md). */
  /** API keys: only the key's SHA-256 (model/api-key.ts); services a JSON array of names. */
  api_keys: {
    id: string;
    name: string;
    hash: string;
    services: string;
    /** The user it acts as; null for a service's key. */
    user_id: string | null;
    created_at: string;
    /** null: until revoked. */
    expires_at: string | null;
    revoked_at: string | null;
  };
  /** Emailed sign-in links: the link's SHA-256, and that of the nonce the asking browser holds. */
  magic_links: {
    token_hash: string;
    user_id: string;
    nonce_hash: string;
    rd: string;
    created_at: string;
    expires_at: string;
    used_at: string | null;
  };
  alert_channels: {
    name: string;
    type: string;
    /** JSON: the channel's settings without secrets. */
    config: string;
    /** JSON object of the secret fields (URL with a token, tokens, password), sealed with the data key. */
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
  /** WireGuard sites (migration 0015). */
  sites: {
    name: string;
    /** JSON array of IPv4 blocks the site announces. */
    subnets: string;
    /** Its tunnel address in vpn_range. */
    address: string;
    /** '' until its connector first connects. */
    public_key: string;
    token_hash: string;
    created_at: string;
    last_seen: string | null;
    last_handshake: string | null;
    /** 1: site-to-site on (migration 0017). */
    site_to_site: number;
  };
  /** The WireGuard end of each public edge (node name; the control plane's own edge too). */
  vpn_edges: { node: string; public_key: string; address: string; endpoint: string; updated_at: string };
  /** VPN clients (migration 0016): only public keys; the private key is in the config shown once. */
  vpn_clients: {
    name: string;
    device_group: string | null;
    /**
     * Its own policy: `full`, `services:a,b` or `ports:22,80` (src/model/vpn-client.ts); '' (since
     * migration 0018): none, its device group's (else `full`).
     */
    policy: string;
    address: string;
    public_key: string;
    created_at: string;
    expires_at: string | null;
  };
  /** Device groups of VPN clients (migration 0018): a policy their clients follow. */
  vpn_groups: { name: string; policy: string; created_at: string };
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

export { checkpointerOf, openSqlite, openSqliteReadOnly, sqliteOf } from './sqlite.js';

/** Which engine `db` runs on: the few dialect-specific statements (doctor, group commit) ask. */
export function dialectOf<T>(db: Kysely<T>): 'sqlite' | 'postgres' {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

/** Check for `doctor`: SQLite's integrity check; on PostgreSQL a round trip and the schema version. */
export async function checkDb(db: Db): Promise<string> {
  if (dialectOf(db) === 'sqlite') {
    const { rows } = await sql<{ integrity_check: string }>`pragma integrity_check`.execute(db);
    const verdict = rows[0]?.integrity_check ?? 'unknown';
    if (verdict !== 'ok') throw new Error(`integrity check: ${verdict}`);
  } else {
    await sql`select 1`.execute(db);
    const { unknown, pending } = await migrationState(db);
    if (unknown.length > 0) throw new Error(`schema newer than this binary: ${unknown.join(', ')}`);
    if (pending.length > 0) throw new Error(`schema behind: ${pending.join(', ')} not applied`);
  }
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
