import type { Service } from '../model/service.js';
import type { Logger } from '../observe/log.js';
import type { NameAnswer, NameLookup } from './name-lookup.js';
import { authNamesOf } from './auth-names.js';
import { serviceView, upstreamNamesOf, upstreamText } from './upstream-view.js';

/**
 * Upstreams by name (docs/upstream-names.md). The control plane resolves every DNS name the
 * services' upstreams use, and hands the compiler a copy of each such service with the names
 * replaced by the addresses they resolve to now (`view`). A change of answer is a change to the
 * pools only: it reaches nginx's shared memory without a reload (TCP routes: their stream upstream
 * block, with a reload), and the same config goes to every edge.
 *
 * Timing, with the answer's TTL clamped to [minTtlMs, maxTtlMs] (the system resolver gives none:
 * defaultTtlMs):
 * - a name is resolved again when its answer's TTL runs out;
 * - "no such name" or "no address" (NXDOMAIN, NODATA): its addresses go at once (fail closed);
 * - no answer (timeout, SERVFAIL, refused): the last answer is kept for at most one more TTL after
 *   it ran out, then dropped; it is asked again every retry (min(TTL, 5 s)) meanwhile;
 * - a name that resolves to nothing leaves its route without a live peer: the offline page (503).
 */

export interface UpstreamNamesOptions {
  lookup: NameLookup;
  log: Logger;
  /** Called when the addresses some name stands for changed: what edges serve must be compiled again. */
  onChange: () => void;
  /** Milliseconds since the epoch; injected by tests. */
  now?: () => number;
  minTtlMs?: number;
  maxTtlMs?: number;
  /** The TTL of an answer that has none (the system resolver's). */
  defaultTtlMs?: number;
  /**
   * Why an address a name resolved to may not be dialled on this port (Gatehouse's own listeners on
   * this machine, as claims.ts refuses for IP upstreams); undefined: it may. Such addresses are left out.
   */
  refuse?: (ip: string, port: number) => string | undefined;
}

/**
 * Names known without DNS (the docker source's running containers, src/sources/docker/
 * container-names.ts): asked first; undefined means not known there, and the resolver is asked.
 */
export interface KnownNames {
  lookup(name: string): string[] | undefined;
  /** Called when what some name stands for changed; returns the unsubscribe. */
  onChange(fn: () => void): () => void;
}

/** What `gatehouse status` and the API show for one name. */
export interface UpstreamNameStatus {
  name: string;
  /** The addresses routes use now (empty: no live peer, the offline page). */
  addresses: string[];
  state: 'resolving' | 'ok' | 'stale' | 'unresolved';
  ttlSeconds?: number;
  resolvedAt?: string;
  /** When it is asked again. */
  nextAt?: string;
  /** Until when a last answer is kept while the resolver does not answer. */
  staleUntil?: string;
  /** Addresses left out (`IP:port: why`): they are Gatehouse's own listeners. */
  refused?: string[];
  /** A forward-auth URL names it: with no address, its routes answer 503 (the auth server is not asked). */
  forwardAuth?: true;
  error?: string;
  errorAt?: string;
}

interface Entry {
  name: string;
  /** The last answer (sorted), used while now < validUntil. */
  answer: string[];
  ttlMs: number;
  validUntil: number;
  refreshAt: number;
  resolvedAt?: number;
  error?: { message: string; at: number };
  inflight?: Promise<void>;
  /** The answer was missing at the last lookup (a failed one): kept only until validUntil. */
  stale: boolean;
}

const RETRY_MAX_MS = 5000;

export class UpstreamNames {
  private readonly entries = new Map<string, Entry>();
  /** The addresses each name stood for when the services were last compiled. */
  private published = new Map<string, string>();
  private readonly now: () => number;
  private readonly minTtl: number;
  private readonly maxTtl: number;
  private readonly defaultTtl: number;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly names = new WeakMap<Service, string[]>();
  private readonly views = new WeakMap<Service, { key: string; service: Service }>();
  /** Per name: the addresses left out (see refuse), as `IP:port: why`. */
  private readonly refused = new Map<string, Set<string>>();
  /** Counts the changes of what names stand for (part of a compiled config's cache key). */
  version = 0;
  private known: KnownNames | undefined;
  /** The names forward-auth URLs use (for status). */
  private readonly authNames = new Set<string>();
  private unsubscribeKnown: (() => void) | undefined;

  constructor(private readonly o: UpstreamNamesOptions) {
    this.now = o.now ?? Date.now;
    this.minTtl = Math.max(1000, o.minTtlMs ?? 1000);
    this.maxTtl = Math.max(this.minTtl, o.maxTtlMs ?? 300_000);
    this.defaultTtl = this.clamp(o.defaultTtlMs ?? 30_000);
  }

  /** Starts re-resolving on a timer (tests drive `tick` with their own clock instead). */
  start(): void {
    this.running = true;
    this.arm();
  }

  /**
   * Asks `known` first from now on (the docker source's containers); every name is asked again
   * whenever what it knows changes.
   */
  useKnown(known: KnownNames): void {
    this.unsubscribeKnown?.();
    this.known = known;
    this.unsubscribeKnown = known.onChange(() => void this.askAgain());
    void this.askAgain();
  }

  /** Every name asked again now (after lookups under way, which may have seen the old state). */
  private async askAgain(): Promise<void> {
    try {
      await Promise.all([...this.entries.values()].map((e) => e.inflight));
      const t = this.now();
      for (const e of this.entries.values()) e.refreshAt = Math.min(e.refreshAt, t);
      await this.tick();
    } catch (err) {
      this.o.log.error({ err: String(err) }, 'upstream names: lookup failed');
    }
  }

  stop(): void {
    this.unsubscribeKnown?.();
    this.unsubscribeKnown = undefined;
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The DNS names a service's upstreams use (lowercase, without a trailing dot). */
  namesOf(svc: Service): string[] {
    let out = this.names.get(svc);
    if (out) return out;
    out = upstreamNamesOf(svc);
    this.names.set(svc, out);
    return out;
  }

  /**
   * The names these services use now: new ones are looked up (resolves when they have been),
   * names no service uses any more are forgotten.
   */
  async track(services: Iterable<Service>): Promise<void> {
    const wanted = new Set<string>();
    this.authNames.clear();
    for (const s of services) {
      for (const n of this.namesOf(s)) wanted.add(n);
      for (const n of authNamesOf(s)) this.authNames.add(n);
    }
    for (const name of [...this.entries.keys()])
      if (!wanted.has(name)) {
        this.entries.delete(name);
        this.refused.delete(name);
      }
    const fresh: string[] = [];
    for (const name of wanted) {
      if (this.entries.has(name)) continue;
      const t = this.now();
      this.entries.set(name, {
        name,
        answer: [],
        ttlMs: this.defaultTtl,
        validUntil: 0,
        refreshAt: t,
        stale: false,
      });
      fresh.push(name);
    }
    if (fresh.length > 0) await this.tick();
  }

  /** The addresses a name stands for now (empty: none usable). */
  addresses(name: string): string[] {
    const e = this.entries.get(name);
    return e && this.now() < e.validUntil ? e.answer : [];
  }

  /**
   * Looks up every name whose answer ran out, drops answers kept past their bound, and calls
   * onChange when what some name stands for changed. Timers call it; tests call it directly.
   */
  async tick(): Promise<void> {
    const t = this.now();
    const due = [...this.entries.values()].filter((e) => e.refreshAt <= t);
    await Promise.all(due.map((e) => this.resolve(e)));
    this.publish();
    this.arm();
  }

  private resolve(e: Entry): Promise<void> {
    e.inflight ??= this.lookup(e.name)
      .then((a) => this.take(e, a))
      .finally(() => (e.inflight = undefined));
    return e.inflight;
  }

  private async lookup(name: string): Promise<NameAnswer> {
    const known = this.known?.lookup(name);
    if (known !== undefined)
      return known.length > 0
        ? { kind: 'found', addresses: known }
        : { kind: 'absent', error: `${name}: a known container without an address` };
    return this.o
      .lookup(name)
      .catch((err: unknown) => ({ kind: 'failed', error: `${name}: ${String(err)}` }));
  }

  private take(e: Entry, a: NameAnswer): void {
    const t = this.now();
    if (this.entries.get(e.name) !== e) return;
    if (a.kind === 'found') {
      const ttl = this.clamp(a.ttlMs ?? this.defaultTtl);
      const answer = [...a.addresses].sort();
      if (answer.join(',') !== e.answer.join(',')) this.refused.delete(e.name);
      e.answer = answer;
      e.ttlMs = ttl;
      e.refreshAt = t + ttl;
      // One TTL of grace past expiry, used only while the resolver does not answer.
      e.validUntil = t + 2 * ttl;
      e.resolvedAt = t;
      e.stale = false;
      delete e.error;
      return;
    }
    if (!e.error || e.error.message !== a.error)
      this.o.log.warn({ name: e.name, err: a.error }, 'upstream name did not resolve');
    e.error = { message: a.error, at: t };
    e.refreshAt = t + Math.max(this.minTtl, Math.min(e.ttlMs, RETRY_MAX_MS));
    if (a.kind === 'absent') {
      e.answer = [];
      e.validUntil = 0;
      e.stale = false;
    } else {
      // The answer already held stays until validUntil (set when it came), never longer.
      e.stale = e.answer.length > 0 && t < e.validUntil;
    }
  }

  /** Records what each name stands for now; onChange when any differs from the last time. */
  private publish(): void {
    const next = new Map<string, string>();
    for (const name of this.entries.keys()) next.set(name, this.addresses(name).join(','));
    let changed = next.size !== this.published.size;
    if (!changed) for (const [n, v] of next) if (this.published.get(n) !== v) changed = true;
    this.published = next;
    if (!changed) return;
    this.version++;
    this.o.onChange();
  }

  /** The next timer: the earliest re-lookup or end of a kept answer. */
  private arm(): void {
    if (!this.running) return;
    clearTimeout(this.timer);
    const t = this.now();
    let next = Infinity;
    for (const e of this.entries.values()) {
      next = Math.min(next, e.refreshAt);
      if (e.validUntil > t) next = Math.min(next, e.validUntil);
    }
    if (next === Infinity) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.tick().catch((err: unknown) =>
          this.o.log.error({ err: String(err) }, 'upstream names: tick failed'),
        );
      },
      Math.max(0, Math.min(next - t, this.maxTtl)),
    );
    this.timer.unref();
  }

  private clamp(ms: number): number {
    return Math.min(this.maxTtl, Math.max(this.minTtl, ms));
  }

  /**
   * The service as the compiler sees it: each named upstream replaced by the addresses its name
   * stands for now (the same object while they do not change, and the service itself when it names
   * none). A route left with no address keeps one placeholder, marked NO_LIVE_PEER: no live peer.
   */
  view(svc: Service): Service {
    const names = this.namesOf(svc);
    if (names.length === 0) return svc;
    const key = names.map((n) => `${n}=${this.addresses(n).join(',')}`).join(' ');
    const cached = this.views.get(svc);
    if (cached?.key === key) return cached.service;
    const service = serviceView(svc, (name, port) => this.usable(name, port));
    this.views.set(svc, { key, service });
    return service;
  }

  /** The addresses a name stands for now that may be dialled on this port (the others noted). */
  private usable(name: string, port: number): string[] {
    return this.addresses(name).filter((ip) => {
      const why = this.o.refuse?.(ip, port);
      if (why !== undefined)
        this.noteRefused(name, `${upstreamText({ scheme: 'http', host: ip, port }, false)}: ${why}`);
      return why === undefined;
    });
  }

  private noteRefused(name: string, what: string): void {
    const set = this.refused.get(name) ?? new Set<string>();
    if (set.has(what)) return;
    set.add(what);
    this.refused.set(name, set);
    this.o.log.warn({ name, refused: what }, 'upstream name resolves to a listener of Gatehouse: left out');
  }

  /** Every name in use, for status. */
  status(): UpstreamNameStatus[] {
    const iso = (ms: number) => new Date(ms).toISOString();
    return [...this.entries.values()]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((e) => {
        const addresses = this.addresses(e.name);
        const state: UpstreamNameStatus['state'] =
          e.resolvedAt === undefined && !e.error
            ? 'resolving'
            : addresses.length === 0
              ? 'unresolved'
              : e.stale
                ? 'stale'
                : 'ok';
        return {
          name: e.name,
          addresses,
          state,
          ...(e.resolvedAt !== undefined
            ? { ttlSeconds: e.ttlMs / 1000, resolvedAt: iso(e.resolvedAt) }
            : {}),
          nextAt: iso(e.refreshAt),
          ...(state === 'stale' ? { staleUntil: iso(e.validUntil) } : {}),
          ...(this.authNames.has(e.name) ? { forwardAuth: true as const } : {}),
          ...(this.refused.has(e.name) ? { refused: [...(this.refused.get(e.name) ?? [])].sort() } : {}),
          ...(e.error ? { error: e.error.message, errorAt: iso(e.error.at) } : {}),
        };
      });
  }
}
