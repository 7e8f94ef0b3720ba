import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import { invalid, notFound } from '../model/errors.js';
import type { LinkCreate, LinkView } from '../model/link.js';
import { bandwidthBytes } from '../model/limits.js';
import { linkAdmission, STATE_DIR, stateFile } from '../model/session.js';
import { durationMs } from '../model/values.js';
import type { Registry } from '../registry/registry.js';
import type { Database, Db } from '../store/db.js';
import { checkPassword, hashPassword } from './users.js';
import { writeFileAtomic } from '../store/files.js';
import { syncServiceFiles } from './state-sync.js';

type LinkRow = Database['links'];

export interface LinkUse {
  id: number;
  link_id: string;
  at: string;
  ip: string;
  user_agent: string;
  outcome: string;
}

export type OpenResult =
  | { kind: 'admitted'; link: LinkRow }
  | { kind: 'password'; link: LinkRow; wrong: boolean }
  | { kind: 'expired' | 'revoked' | 'unknown' }
  | { kind: 'full'; link: LinkRow };

/** A service name as the model allows it (it names a directory of admission files). */
const SERVICE_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Temporary links. The token is shown once and stored as a SHA-256 hash. An admitted address is a
 * file `l/<service>/<ip>` holding the expiry (ms), which nginx's check tests for: later requests from
 * that address need no token and no round trip; removing the file revokes at once. Among replicas,
 * each admission or revocation made here is told to `onAdmission`'s listener (the others write the
 * same file from the store: refreshAddress), and syncAdmissions makes the files the store's again.
 */
export class LinkStore {
  private admitted: (service: string, ip: string) => void = () => undefined;
  /** File writes one after another: a whole resync never undoes an admission made while it ran. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly registry: Registry,
    private readonly stateDir: string,
    private readonly originOf: (host: string) => Promise<string> = async (h) => `http://${h}`,
  ) {}

  async create(input: LinkCreate): Promise<{ link: LinkView; token: string; url: string }> {
    const rec = this.registry.get(input.service);
    if (!rec) throw invalid('service', `no service ${input.service}`);
    const svc = rec.service;
    const accepts = [svc.access, ...svc.routes.map((r) => r.access)].some((a) => a?.links);
    if (!accepts) throw invalid('service', `service ${input.service} has no route with access.links: true`);
    const hosts = svc.hosts.filter((h) => !h.startsWith('*.'));
    const host = input.host ?? hosts[0];
    if (!host || !hosts.includes(host))
      throw invalid('host', `not one of the service's hosts (${hosts.join(', ')})`);
    const token = randomBytes(24).toString('base64url');
    const now = Date.now();
    const row: LinkRow = {
      id: randomUUID(),
      service: input.service,
      token_hash: tokenHash(token),
      created_at: new Date(now).toISOString(),
      expires_at: new Date(now + durationMs(input.ttl)).toISOString(),
      max_ips: input.max_ips,
      password_hash: input.password ? await hashPassword(input.password) : null,
      note: input.note,
      revoked_at: null,
      bandwidth: input.bandwidth ?? null,
    };
    await this.db.insertInto('links').values(row).execute();
    const url = `${await this.originOf(host)}/.gatehouse/link/${token}`;
    return { link: await this.view(row), token, url };
  }

  async list(service?: string): Promise<LinkView[]> {
    let q = this.db.selectFrom('links').selectAll().orderBy('created_at', 'desc');
    if (service) q = q.where('service', '=', service);
    const rows = await q.execute();
    return Promise.all(rows.map((r) => this.view(r)));
  }

  async get(id: string): Promise<LinkView & { uses: LinkUse[] }> {
    const row = await this.db.selectFrom('links').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound(`link ${id}`);
    const uses = await this.db
      .selectFrom('link_uses')
      .selectAll()
      .where('link_id', '=', id)
      .orderBy('id', 'desc')
      .limit(1000)
      .execute();
    return { ...(await this.view(row)), uses };
  }

  async revoke(id: string): Promise<void> {
    const row = await this.db.selectFrom('links').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound(`link ${id}`);
    await this.db
      .updateTable('links')
      .set({ revoked_at: new Date().toISOString() })
      .where('id', '=', id)
      .execute();
    const ips = await this.db.selectFrom('link_ips').select('ip').where('link_id', '=', id).execute();
    for (const { ip } of ips) {
      await this.refreshIp(row.service, ip);
      this.admitted(row.service, ip);
    }
  }

  /** Tells `fn` of each address whose admission changed here (admitted, or its link revoked). */
  onAdmission(fn: (service: string, ip: string) => void): void {
    this.admitted = fn;
  }

  /**
   * The admission file of `ip` for `service` as the store has it now (another replica admitted
   * or revoked it). Returns false for a service name or address that cannot be one.
   */
  async refreshAddress(service: string, ip: string): Promise<boolean> {
    if (!SERVICE_RE.test(service) || !isIP(ip)) return false;
    await this.refreshIp(service, ip);
    return true;
  }

  /**
   * Makes the admission files exactly the store's live links (not revoked, not expired): missing
   * ones written, stale ones removed (a change missed while this replica did not listen).
   * Returns how many files it wrote or removed.
   */
  syncAdmissions(): Promise<number> {
    return this.serial(async () => {
      const now = Date.now();
      const rows = await this.db
        .selectFrom('links')
        .innerJoin('link_ips', 'link_ips.link_id', 'links.id')
        .select(['links.service', 'link_ips.ip', 'links.expires_at', 'links.bandwidth'])
        .where('links.revoked_at', 'is', null)
        .where('links.expires_at', '>', new Date(now).toISOString())
        .execute();
      const byFile = new Map<string, { expires_at: string; bandwidth: string | null }[]>();
      for (const r of rows) {
        if (!SERVICE_RE.test(r.service) || !isIP(r.ip)) continue;
        const file = stateFile.link(this.stateDir, r.service, r.ip);
        byFile.set(file, [...(byFile.get(file) ?? []), r]);
      }
      const want = new Map<string, string>();
      for (const [file, live] of byFile) want.set(file, admission(live));
      return syncServiceFiles(join(this.stateDir, STATE_DIR.links), want);
    });
  }

  /** Opening a link from `ip`: checks it and, when it may, admits the address. */
  async open(
    token: string,
    ip: string,
    userAgent: string,
    password: string | undefined,
    passwordOk: (hash: string, password: string) => Promise<boolean> = checkPassword,
  ): Promise<OpenResult> {
    const row = await this.db
      .selectFrom('links')
      .selectAll()
      .where('token_hash', '=', tokenHash(token))
      .executeTakeFirst();
    if (!row) return { kind: 'unknown' };
    const result = await this.decide(row, ip, password, passwordOk);
    await this.db
      .insertInto('link_uses')
      .values({
        link_id: row.id,
        at: new Date().toISOString(),
        ip,
        user_agent: userAgent.slice(0, 512),
        outcome: result.kind === 'password' && result.wrong ? 'wrong_password' : result.kind,
      })
      .execute();
    return result;
  }

  private async decide(
    row: LinkRow,
    ip: string,
    password: string | undefined,
    passwordOk: (hash: string, password: string) => Promise<boolean>,
  ): Promise<OpenResult> {
    if (row.revoked_at) return { kind: 'revoked' };
    if (Date.parse(row.expires_at) <= Date.now()) return { kind: 'expired' };
    if (row.password_hash) {
      if (password === undefined) return { kind: 'password', link: row, wrong: false };
      if (!(await passwordOk(row.password_hash, password)))
        return { kind: 'password', link: row, wrong: true };
    }
    // Check and insert in one transaction: two addresses opening the link at once cannot both be
    // the last one it admits.
    const full = await this.db.transaction().execute(async (tx) => {
      const known = await tx.selectFrom('link_ips').select('ip').where('link_id', '=', row.id).execute();
      if (known.some((k) => k.ip === ip)) return false;
      if (known.length >= row.max_ips) return true;
      await tx
        .insertInto('link_ips')
        .values({ link_id: row.id, ip, first_at: new Date().toISOString() })
        .onConflict((oc) => oc.doNothing())
        .execute();
      return false;
    });
    if (full) return { kind: 'full', link: row };
    await this.refreshIp(row.service, ip);
    this.admitted(row.service, ip);
    return { kind: 'admitted', link: row };
  }

  /** Writes (or removes) the admission file of one address: the latest expiry of its live links. */
  private refreshIp(service: string, ip: string): Promise<void> {
    if (!isIP(ip)) return Promise.resolve();
    return this.serial(() => this.writeIp(service, ip));
  }

  private async writeIp(service: string, ip: string): Promise<void> {
    const rows = await this.db
      .selectFrom('links')
      .innerJoin('link_ips', 'link_ips.link_id', 'links.id')
      .select(['links.expires_at', 'links.bandwidth'])
      .where('links.service', '=', service)
      .where('link_ips.ip', '=', ip)
      .where('links.revoked_at', 'is', null)
      .where('links.expires_at', '>', new Date().toISOString())
      .execute();
    const file = stateFile.link(this.stateDir, service, ip);
    if (rows.length === 0) {
      await rm(file, { force: true });
      return;
    }
    await mkdir(dirname(file), { recursive: true, mode: 0o711 });
    await writeFileAtomic(file, admission(rows), 0o644);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async view(row: LinkRow): Promise<LinkView> {
    const ips = await this.db
      .selectFrom('link_ips')
      .select(['ip', 'first_at'])
      .where('link_id', '=', row.id)
      .orderBy('first_at')
      .execute();
    const expired = Date.parse(row.expires_at) <= Date.now();
    return {
      id: row.id,
      service: row.service,
      created_at: row.created_at,
      expires_at: row.expires_at,
      max_ips: row.max_ips,
      has_password: row.password_hash !== null,
      note: row.note,
      bandwidth: row.bandwidth,
      revoked: row.revoked_at !== null,
      state: row.revoked_at ? 'revoked' : expired ? 'expired' : 'active',
      ips,
    };
  }
}

/**
 * An address's admission from the live links that admitted it: the latest expiry; a bandwidth
 * limit only when every one of them has one (the most generous), since any link without one
 * admits the address unlimited.
 */
function admission(live: { expires_at: string; bandwidth: string | null }[]): string {
  const until = Math.max(...live.map((l) => Date.parse(l.expires_at)));
  const rates = live.map((l) => (l.bandwidth === null ? undefined : bandwidthBytes(l.bandwidth)));
  return linkAdmission(
    until,
    rates.some((r) => r === undefined) ? undefined : Math.max(...(rates as number[])),
  );
}
