import { createHash, randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ttlMs, type ApiKeyCreate } from '../model/api-key.js';
import { invalid, notFound } from '../model/errors.js';
import { CLAIM, STATE_DIR, stateFile } from '../model/session.js';
import type { Registry } from '../registry/registry.js';
import type { Database, Db } from '../store/db.js';
import { putStateFile, syncServiceFiles } from './state-sync.js';

type KeyRow = Database['api_keys'];

/** What a key's file stores of it (the key itself is never stored). */
export function apiKeyHash(key: string): string {
  return createHash('sha256').update(key).digest('base64url');
}

/** Who a key acts as, in the session claims' short names (the Lua check reads them alike). */
export interface ApiKeyIdentity {
  /** "user" keys carry a user's groups, checked against a route's; "service" keys pass as scoped. */
  kind: 'user' | 'service';
  uid: string;
  username: string;
  email: string;
  name: string;
  firstName: string;
  lastName: string;
  groups: string[];
}

/** The content of a key's file for one service. */
export function apiKeyFileContent(expiresMs: number, hash: string, who: ApiKeyIdentity): string {
  const claims = {
    t: who.kind === 'user' ? 'u' : 's',
    [CLAIM.userId]: who.uid,
    [CLAIM.username]: who.username,
    [CLAIM.email]: who.email,
    [CLAIM.name]: who.name,
    [CLAIM.firstName]: who.firstName,
    [CLAIM.lastName]: who.lastName,
    [CLAIM.groups]: who.groups,
  };
  return `${expiresMs} ${hash} ${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
}

export interface ApiKeyView {
  id: string;
  name: string;
  services: string[];
  /** The username it acts as; null for a service's key. */
  user: string | null;
  created_at: string;
  expires_at: string | null;
  state: 'active' | 'expired' | 'revoked';
}

const SERVICE_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * API keys. A key is shown once; the store keeps its SHA-256. nginx checks a key against the files
 * `k/<service>/<id>` (model/api-key.ts), which this class keeps equal to the store's live keys:
 * written on create, removed on revoke, rewritten when the user a key acts as changes (groups,
 * names) and removed while that user is disabled. Among replicas, `onChange`'s listener tells
 * the others, which make their files the store's again (`sync`).
 */
export class ApiKeyStore {
  private changed: () => void = () => undefined;
  /** File writes one after another: a whole sync never undoes a change made while it ran. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly registry: Registry,
    private readonly stateDir: string,
  ) {}

  /** Tells `fn` after each change made here (another replica then calls sync). */
  onChange(fn: () => void): void {
    this.changed = fn;
  }

  async create(input: ApiKeyCreate): Promise<{ key: ApiKeyView; token: string }> {
    const services = [...new Set(input.services)];
    for (const [i, name] of services.entries()) {
      const rec = this.registry.get(name);
      if (!rec) throw invalid(`services.${i}`, `no service ${name}`);
      const svc = rec.service;
      if (![svc.access, ...svc.routes.map((r) => r.access)].some((a) => a?.api_keys))
        throw invalid(`services.${i}`, `service ${name} has no route with access.api_keys`);
    }
    let userId: string | null = null;
    if (input.user !== undefined) {
      const u = await this.db
        .selectFrom('users')
        .select('id')
        .where('username', '=', input.user)
        .executeTakeFirst();
      if (!u) throw invalid('user', `no user ${input.user}`);
      userId = u.id;
    }
    const id = randomBytes(8).toString('hex');
    const token = `ghk_${id}_${randomBytes(32).toString('base64url')}`;
    const now = Date.now();
    const row: KeyRow = {
      id,
      name: input.name,
      hash: apiKeyHash(token),
      services: JSON.stringify(services),
      user_id: userId,
      created_at: new Date(now).toISOString(),
      expires_at: input.ttl ? new Date(now + ttlMs(input.ttl)).toISOString() : null,
      revoked_at: null,
    };
    await this.db.insertInto('api_keys').values(row).execute();
    await this.serial(() => this.writeKey(row));
    this.changed();
    return { key: await this.view(row), token };
  }

  async list(): Promise<ApiKeyView[]> {
    const rows = await this.db.selectFrom('api_keys').selectAll().orderBy('created_at', 'desc').execute();
    const names = await this.usernames();
    return rows.map((r) => viewOf(r, names));
  }

  async revoke(id: string): Promise<void> {
    const row = await this.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound(`API key ${id}`);
    const revoked = { ...row, revoked_at: row.revoked_at ?? new Date().toISOString() };
    await this.db
      .updateTable('api_keys')
      .set({ revoked_at: revoked.revoked_at })
      .where('id', '=', id)
      .execute();
    await this.serial(() => this.writeKey(revoked));
    this.changed();
  }

  /** The user `uid` changed or was disabled: their keys' files follow. Removed: their keys are revoked. */
  async userChanged(uid: string): Promise<void> {
    const user = await this.db.selectFrom('users').select('id').where('id', '=', uid).executeTakeFirst();
    if (!user)
      await this.db
        .updateTable('api_keys')
        .set({ revoked_at: new Date().toISOString() })
        .where('user_id', '=', uid)
        .where('revoked_at', 'is', null)
        .execute();
    const rows = await this.db.selectFrom('api_keys').selectAll().where('user_id', '=', uid).execute();
    if (rows.length === 0) return;
    await this.serial(async () => {
      for (const r of rows) await this.writeKey(r);
    });
    this.changed();
  }

  /**
   * Makes the key files exactly the store's live keys (a change missed while this replica did
   * not listen, a restore, a key past its expiry). Returns how many files it wrote or removed.
   */
  sync(): Promise<number> {
    return this.serial(async () => {
      const rows = await this.db.selectFrom('api_keys').selectAll().execute();
      const want = new Map<string, string>();
      for (const r of rows) for (const [file, content] of await this.filesOf(r)) want.set(file, content);
      return syncServiceFiles(join(this.stateDir, STATE_DIR.apiKeys), want);
    });
  }

  /** A key's files as they should be: one per service while it is live, none otherwise. */
  private async filesOf(row: KeyRow): Promise<[string, string][]> {
    const expires = row.expires_at ? Date.parse(row.expires_at) : 0;
    if (row.revoked_at || (expires && expires <= Date.now())) return [];
    const who = await this.identityOf(row);
    if (!who) return [];
    const content = apiKeyFileContent(expires, row.hash, who);
    return servicesOf(row).map((s) => [stateFile.apiKey(this.stateDir, s, row.id), content]);
  }

  private async writeKey(row: KeyRow): Promise<void> {
    const want = new Map(await this.filesOf(row));
    for (const s of servicesOf(row)) {
      const file = stateFile.apiKey(this.stateDir, s, row.id);
      const content = want.get(file);
      if (content === undefined) await rm(file, { force: true });
      else await putStateFile(file, content);
    }
  }

  /** Who the key acts as: its user (undefined while disabled or gone), or itself for a service key. */
  private async identityOf(row: KeyRow): Promise<ApiKeyIdentity | undefined> {
    if (row.user_id === null)
      return {
        kind: 'service',
        uid: `key-${row.id}`,
        username: row.name,
        email: '',
        name: row.name,
        firstName: '',
        lastName: '',
        groups: [],
      };
    const u = await this.db.selectFrom('users').selectAll().where('id', '=', row.user_id).executeTakeFirst();
    if (!u || u.disabled) return undefined;
    const groups = await this.db
      .selectFrom('user_groups')
      .select('group_name')
      .where('user_id', '=', u.id)
      .orderBy('group_name')
      .execute();
    return {
      kind: 'user',
      uid: u.id,
      username: u.username,
      email: u.email,
      name: u.name,
      firstName: u.first_name,
      lastName: u.last_name,
      groups: groups.map((g) => g.group_name),
    };
  }

  private async usernames(): Promise<Map<string, string>> {
    const rows = await this.db.selectFrom('users').select(['id', 'username']).execute();
    return new Map(rows.map((r) => [r.id, r.username]));
  }

  private async view(row: KeyRow): Promise<ApiKeyView> {
    return viewOf(row, await this.usernames());
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

function servicesOf(row: KeyRow): string[] {
  try {
    const list: unknown = JSON.parse(row.services);
    return Array.isArray(list)
      ? list.filter((s): s is string => typeof s === 'string' && SERVICE_RE.test(s))
      : [];
  } catch {
    return [];
  }
}

function viewOf(row: KeyRow, usernames: Map<string, string>): ApiKeyView {
  const expired = row.expires_at !== null && Date.parse(row.expires_at) <= Date.now();
  return {
    id: row.id,
    name: row.name,
    services: servicesOf(row),
    user: row.user_id === null ? null : (usernames.get(row.user_id) ?? null),
    created_at: row.created_at,
    expires_at: row.expires_at,
    state: row.revoked_at ? 'revoked' : expired ? 'expired' : 'active',
  };
}
