import type { Logger } from '../observe/log.js';
import { notFound } from '../model/errors.js';
import type { Registry } from '../registry/registry.js';
import { covers, type CertRef } from '../model/tls.js';
import type { AcmeIssuer } from './acme.js';
import type { CertStore, CertView } from './store.js';

export interface OrderStatus {
  names: string[];
  state: 'issuing' | 'failed' | 'issued';
  step?: string;
  error?: string;
  /** When a failed order is tried again (ISO). */
  retryAt?: string;
  updatedAt: string;
}

const MIN_BACKOFF_MS = 60_000;
const MAX_BACKOFF_MS = 24 * 3_600_000;

/** How long a finished order stays listed (GET /api/v1/certificates `orders`). */
const ISSUED_SHOWN_MS = 60 * 60_000;

/**
 * Keeps every HTTPS host covered: orders a certificate for a service's hosts that no valid
 * certificate covers (or whose certificate is past two-thirds of its life), one order at a time, each
 * failure backing off on its own (a failing order never blocks the others). The old certificate keeps
 * serving until its successor exists.
 */
export class CertManager {
  readonly orders = new Map<string, OrderStatus>();
  private readonly failures = new Map<string, number>();
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly registry: Registry,
    private readonly store: CertStore,
    private readonly issuer: AcmeIssuer,
    private readonly log: Logger,
    private readonly policy: {
      /** With a DNS provider for it, the base domain gets one wildcard certificate for all its hosts. */
      baseDomain?: string;
      /** Whether a DNS provider can prove this name (DNS-01). */
      hasDns?: (name: string) => Promise<boolean>;
      /** Told once a day about each certificate within 14 days of expiry. */
      onExpiring?: (cert: CertRef) => void;
      /** Told about every failed order. */
      onFailure?: (names: string[]) => void;
      /** Hosts Gatehouse serves itself (the login portal). */
      ownHosts?: string[];
      /** Whether this replica leads: only the leader orders and renews (manual orders run anywhere). */
      leading?: () => boolean;
    } = {},
  ) {}

  private readonly warned = new Map<string, number>();

  async start(): Promise<void> {
    await this.loadBackoff();
    this.registry.onChange(() => {
      // Registrations come in bursts: look once they settle.
      if (this.debounce) clearTimeout(this.debounce);
      this.debounce = setTimeout(() => this.kick(), 500);
      this.debounce.unref();
    });
    this.timer = setInterval(() => this.kick(), 3_600_000);
    this.timer.unref();
    this.kick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
  }

  /** Runs a pass now (or after the running one). */
  kick(): Promise<void> {
    if (this.stopped || this.policy.leading?.() === false) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.pass().catch((err: unknown) =>
          this.log.error({ err: String(err) }, 'certificate pass failed'),
        );
      } while (this.again && !this.stopped);
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Orders a successor for a certificate now (same names); the old one serves until it exists. */
  async renew(id: string): Promise<CertView> {
    const cert = (await this.store.list()).find((c) => c.id === id);
    if (!cert) throw notFound(`certificate ${id}`);
    return this.order(cert.names, true);
  }

  /** Revokes a certificate at its CA (ACME ones) and removes it. */
  async revoke(id: string): Promise<void> {
    const cert = (await this.store.list()).find((c) => c.id === id);
    if (!cert) throw notFound(`certificate ${id}`);
    if (cert.source === 'acme') await this.issuer.revoke((await this.store.material(id)).cert);
    await this.store.remove(id);
  }

  /** Orders a certificate for these names now (CLI `cert issue`). */
  async issueNow(names: string[]): Promise<CertView> {
    return this.order(names, true);
  }

  private async pass(): Promise<void> {
    // An issued order is news for a while (the UI shows it), then only the certificate matters.
    for (const [k, o] of this.orders) {
      if (o.state === 'issued' && Date.now() - Date.parse(o.updatedAt) > ISSUED_SHOWN_MS)
        this.orders.delete(k);
    }
    const all = await this.store.inventory();
    for (const c of all) {
      const left = Date.parse(c.notAfter) - Date.now();
      const last = this.warned.get(c.id) ?? 0;
      if (left < 14 * 86_400_000 && Date.now() - last > 86_400_000) {
        this.warned.set(c.id, Date.now());
        this.policy.onExpiring?.(c);
      }
    }
    const fresh = all.filter((c) => !dueForRenewal(c));
    for (const names of await this.wanted(fresh)) {
      if (this.stopped) return;
      const key = names.join(',');
      const status = this.orders.get(key);
      if (status?.state === 'issuing') continue;
      if (status?.retryAt && Date.parse(status.retryAt) > Date.now()) continue;
      await this.order(names, false).catch(() => undefined);
    }
  }

  /**
   * What to order: the base domain's wildcard (when DNS can prove it) instead of a certificate per
   * host under it; per service, the hosts no fresh certificate covers; a service's own wildcard
   * hosts when DNS can prove them.
   */
  private async wanted(fresh: CertRef[]): Promise<string[][]> {
    const out: string[][] = [];
    const covered = (h: string) => fresh.some((c) => c.names.some((n) => covers(n, h)));
    const hasDns = this.policy.hasDns ?? (async () => false);
    const base = this.policy.baseDomain;
    let wildcard = base && (await hasDns(`*.${base}`)) ? `*.${base}` : undefined;
    if (wildcard && base && !(covered(`x.${base}`) && covered(base))) {
      out.push([wildcard, base]);
      // While the wildcard keeps failing, the hosts under it get their own certificates.
      if (this.failures.has(`${wildcard},${base}`)) wildcard = undefined;
    }
    const planned = (h: string) => !!wildcard && (covers(wildcard, h) || h === base);
    const own = (this.policy.ownHosts ?? []).filter((h) => !covered(h) && !planned(h));
    if (own.length > 0) out.push(own);
    for (const { service } of this.registry.list()) {
      // TCP routes that end TLS need their name's certificate too.
      const terminated = service.tcp.flatMap((t) => (t.tls === 'terminate' && t.sni?.[0] ? [t.sni[0]] : []));
      if (service.tls === 'none' && terminated.length === 0) continue;
      const hosts = [
        ...(service.tls === 'none' || service.routes.length === 0 ? [] : service.hosts),
        ...terminated,
      ];
      const names: string[] = [];
      for (const h of [...new Set(hosts)].sort()) {
        if (covered(h) || planned(h)) continue;
        if (h.startsWith('*.')) {
          if (await hasDns(h)) out.push([h]);
          continue;
        }
        names.push(h);
      }
      if (names.length === 0) continue;
      // A name the CA refuses must not hold the others back: after a failure, one order each.
      if (names.length > 1 && this.failures.has(names.join(','))) for (const n of names) out.push([n]);
      else out.push(names);
    }
    return out;
  }

  /**
   * Backoff survives a restart: a failing order is not retried at once after each start (a CA
   * counts failed validations, Let's Encrypt at 5 an hour per name).
   */
  private async loadBackoff(): Promise<void> {
    const rows = await this.registry.db
      .selectFrom('meta')
      .selectAll()
      .where('key', 'like', `${BACKOFF_PREFIX}%`)
      .execute();
    for (const r of rows) {
      const key = r.key.slice(BACKOFF_PREFIX.length);
      try {
        const v = JSON.parse(r.value) as { n: number; retryAt: string; error?: string };
        this.failures.set(key, v.n);
        this.orders.set(key, {
          names: key.split(','),
          state: 'failed',
          ...(v.error ? { error: v.error } : {}),
          retryAt: v.retryAt,
          updatedAt: v.retryAt,
        });
      } catch {
        // A damaged row is only a lost backoff.
      }
    }
  }

  private async saveBackoff(
    key: string,
    v: { n: number; retryAt: string; error: string } | undefined,
  ): Promise<void> {
    const db = this.registry.db;
    const k = `${BACKOFF_PREFIX}${key}`;
    if (!v) {
      await db.deleteFrom('meta').where('key', '=', k).execute();
      return;
    }
    await db
      .insertInto('meta')
      .values({ key: k, value: JSON.stringify(v) })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: JSON.stringify(v) }))
      .execute();
  }

  private async order(names: string[], manual: boolean): Promise<CertView> {
    const key = names.join(',');
    const status: OrderStatus = { names, state: 'issuing', updatedAt: new Date().toISOString() };
    this.orders.set(key, status);
    const startedAt = new Date().toISOString();
    try {
      const { cert, key: pem } = await this.issuer.issue(names, (step) => {
        status.step = step;
        status.updatedAt = new Date().toISOString();
      });
      // Never two certificates for one order among replicas: a replica that stopped leading while
      // its order ran leaves the names to the new leader, which orders them itself; and one that
      // finds the names stored meanwhile (by another replica) keeps that one.
      if (!manual && this.policy.leading?.() === false) {
        this.orders.delete(key);
        this.log.warn(
          { names },
          'this replica stopped leading during the order: its certificate is not stored',
        );
        throw new NotLeading();
      }
      const twin = (await this.store.list()).find(
        (c) =>
          c.source === 'acme' &&
          c.createdAt >= startedAt &&
          c.names.join(',') === [...names].sort().join(','),
      );
      if (twin) {
        this.orders.set(key, { names, state: 'issued', updatedAt: new Date().toISOString() });
        this.log.info(
          { names, id: twin.id },
          'certificate already stored by another replica: keeping that one',
        );
        return twin;
      }
      const view = await this.store.upload(cert, pem, 'acme');
      this.failures.delete(key);
      await this.saveBackoff(key, undefined);
      this.orders.set(key, { names, state: 'issued', updatedAt: new Date().toISOString() });
      this.log.info({ names, expires: view.notAfter }, 'certificate issued');
      return view;
    } catch (err) {
      if (err instanceof NotLeading) throw err;
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      this.policy.onFailure?.(names);
      const wait = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** (n - 1));
      const message = err instanceof Error ? err.message : String(err);
      await this.saveBackoff(key, {
        n,
        retryAt: new Date(Date.now() + wait).toISOString(),
        error: message.slice(0, 500),
      });
      this.orders.set(key, {
        names,
        state: 'failed',
        error: message.slice(0, 500),
        retryAt: new Date(Date.now() + wait).toISOString(),
        updatedAt: new Date().toISOString(),
      });
      this.log.warn(
        { names, err: message, retryInS: Math.round(wait / 1000), manual },
        'certificate order failed',
      );
      throw err;
    }
  }
}

const BACKOFF_PREFIX = 'cert-backoff ';

/** An order finished after this replica stopped leading: not a failure (no backoff), not stored. */
class NotLeading extends Error {
  constructor() {
    super('this replica no longer leads: the new leader orders these names');
  }
}

/** Past two-thirds of its lifetime. */
function dueForRenewal(c: CertRef): boolean {
  const end = Date.parse(c.notAfter);
  const start = c.notBefore ? Date.parse(c.notBefore) : end - 90 * 86_400_000;
  return Date.now() >= start + ((end - start) * 2) / 3;
}
