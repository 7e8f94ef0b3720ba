import { EventEmitter } from 'node:events';
import { conflict, fromZod, GatehouseError, notFound } from '../model/errors.js';
import { serviceSchema, type Service, type ServiceRecord, type Source } from '../model/service.js';
import type { Db } from '../store/db.js';
import { Claims, type IsLocal } from './claims.js';
import { checkHosts, checkOwner, checkUnchanged, overrides } from './ownership.js';
import { loadRecords, persistVersion, type WriteMeta } from './persist.js';

export type { WriteMeta } from './persist.js';

/** Facts about the machine the registry checks writes against (absent in pure unit tests). */
export interface HostChecks {
  isLocal?: IsLocal;
  /** Whether a TCP port is free to listen on; a new TCP route on a busy port is refused. */
  portFree?: (port: number) => Promise<boolean>;
  /** Host names Gatehouse itself answers (the login portal), with a name for the message. */
  reservedHosts?: ReadonlyMap<string, string>;
}

export type Op =
  | {
      kind: 'put' | 'create';
      service: Service;
      /** Write only if the record's `meta.updated_at` is still this ('absent': it must not exist). */
      ifUpdatedAt?: string;
    }
  | { kind: 'delete'; name: string };

export interface ChangeEvent {
  version: number;
  names: string[];
}

export interface WriteResult {
  version: number;
  /** Names whose record changed; empty when the write was a no-op. */
  changed: string[];
  /** Of those, the names that did not exist before. */
  created: string[];
}

/**
 * The single source of truth for services. Holds the current state in memory (loaded at start),
 * validates every write against the whole of it, persists it with a new version in one transaction
 * and only then makes it visible and tells listeners. Writes are serialised.
 */
export class Registry {
  private readonly records = new Map<string, ServiceRecord>();
  /** Stored records that failed validation at start-up: kept in the database, not served. */
  readonly unloadable: { name: string; error: string }[] = [];
  private claims: Claims;
  private current = 0;
  private readonly events = new EventEmitter();
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly db: Db,
    private readonly reservedPorts: Map<number, string>,
    private readonly host: HostChecks,
  ) {
    this.claims = new Claims(reservedPorts, host.isLocal, host.reservedHosts);
  }

  static async open(db: Db, reservedPorts: Map<number, string>, host: HostChecks = {}): Promise<Registry> {
    const r = new Registry(db, reservedPorts, host);
    const loaded = await loadRecords(db);
    for (const [name, rec] of loaded.records) r.records.set(name, rec);
    r.unloadable.push(...loaded.unloadable);
    // Settings may have changed since the records were written (a new HTTP port, say); a record
    // that now collides is kept and reported by the next write rather than lost at start-up.
    for (const rec of r.records.values()) r.claims.add(rec.service);
    r.current = loaded.version;
    return r;
  }

  /** Whether some service routes HTTP for this host (exactly or by wildcard). */
  servesHost(host: string): boolean {
    return this.claims.servesHost(host);
  }

  get version(): number {
    return this.current;
  }

  list(): ServiceRecord[] {
    return [...this.records.values()].sort((a, b) => (a.service.name < b.service.name ? -1 : 1));
  }

  /** The current state as a map; callers must not mutate it. */
  state(): ReadonlyMap<string, ServiceRecord> {
    return this.records;
  }

  get(name: string): ServiceRecord | undefined {
    return this.records.get(name);
  }

  onChange(fn: (e: ChangeEvent) => void): () => void {
    this.events.on('change', fn);
    return () => this.events.off('change', fn);
  }

  /**
   * Validates `input` with the service schema and creates or replaces that service (with `create`,
   * only creates: an existing name is a conflict, checked in the write queue).
   */
  async put(
    input: unknown,
    meta: WriteMeta,
    opts: { create?: boolean; ifUpdatedAt?: string } = {},
  ): Promise<WriteResult & { name: string }> {
    const parsed = serviceSchema.safeParse(input);
    if (!parsed.success) throw fromZod(parsed.error);
    const kind = opts.create ? 'create' : 'put';
    const op: Op = {
      kind,
      service: parsed.data,
      ...(opts.ifUpdatedAt ? { ifUpdatedAt: opts.ifUpdatedAt } : {}),
    };
    return { ...(await this.apply([op], meta)), name: parsed.data.name };
  }

  remove(name: string, meta: WriteMeta): Promise<WriteResult> {
    return this.apply([{ kind: 'delete', name }], meta);
  }

  /**
   * Makes what `meta.source` + `meta.owner` holds exactly `services`, as one version: each is put,
   * and every record of that source and owner not among them is removed. How a source withdraws a
   * record (a container gone, a service deleted from a file) without touching anyone else's.
   */
  reconcile(services: Service[], meta: WriteMeta): Promise<WriteResult> {
    // What to remove is decided in the queue, against the state the write will meet.
    return this.enqueue(() => {
      const wanted = new Set(services.map((s) => s.name));
      const gone = this.owned(meta.source, meta.owner)
        .filter((name) => !wanted.has(name))
        .map((name): Op => ({ kind: 'delete', name }));
      return this.applyNow([...services.map((service): Op => ({ kind: 'put', service })), ...gone], meta);
    });
  }

  /**
   * Rewrites one record from what it is when the write's turn comes (not from a copy read
   * earlier, which a queued write may have changed meanwhile). `fn` returning the same object
   * writes nothing; a record that is gone is left gone.
   */
  update(name: string, fn: (svc: Service) => Service, meta: WriteMeta): Promise<WriteResult> {
    return this.enqueue(() => {
      const rec = this.records.get(name);
      const next = rec ? fn(rec.service) : undefined;
      if (!rec || !next || next === rec.service) return this.nothing();
      return this.applyNow([{ kind: 'put', service: next }], meta);
    });
  }

  /** Names of the records one owner within a source holds (what `reconcile` makes exactly so). */
  owned(source: Source, owner = ''): string[] {
    const names: string[] = [];
    for (const r of this.records.values())
      if (r.meta.source === source && (r.meta.owner ?? '') === owner) names.push(r.service.name);
    return names;
  }

  /** Owners of a source's records (e.g. the containers docker created services for). */
  owners(source: Source): Set<string> {
    return new Set(
      [...this.records.values()].filter((r) => r.meta.source === source).map((r) => r.meta.owner ?? ''),
    );
  }

  /** Applies several operations as one version: all of them, or none. */
  apply(ops: Op[], meta: WriteMeta): Promise<WriteResult> {
    return this.enqueue(() => this.applyNow(ops, meta));
  }

  /** Writes are serialised: `fn` runs once every write queued before it has finished. */
  private enqueue(fn: () => WriteResult | Promise<WriteResult>): Promise<WriteResult> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The answer to a write that changes nothing. */
  private nothing(): WriteResult {
    return { version: this.current, changed: [], created: [] };
  }

  private async applyNow(ops: Op[], meta: WriteMeta): Promise<WriteResult> {
    const now = new Date().toISOString();
    const next = new Map<string, ServiceRecord | undefined>();
    const unloadableDeletes = new Set<string>();
    for (const op of ops) {
      const name = op.kind === 'delete' ? op.name : op.service.name;
      const existing = next.has(name) ? next.get(name) : this.records.get(name);
      if (op.kind === 'delete' && !existing) {
        if (!this.unloadable.some((u) => u.name === name)) throw notFound(`service ${name}`);
        unloadableDeletes.add(name);
      }
      if (op.kind === 'create' && existing) {
        throw conflict(
          'name',
          `service ${name} already exists; use PUT /api/v1/services/${name} to replace it`,
        );
      }
      // Checked in the write queue: no write can land between this check and this write.
      if (op.kind !== 'delete' && op.ifUpdatedAt) checkUnchanged(name, existing, op.ifUpdatedAt);
      if (existing) checkOwner(name, existing, meta);
      // A source re-applying a record as it is (a file, a resync) has nothing new to claim.
      const unchanged = op.kind !== 'delete' && !!existing && sameService(existing.service, op.service);
      if (op.kind !== 'delete' && !unchanged) {
        // Lazily: only a host someone already serves makes checkHosts look at the records.
        const records = this.records;
        const state = function* (): Generator<[string, ServiceRecord | undefined]> {
          for (const [n, r] of records) yield [n, next.has(n) ? next.get(n) : r];
        };
        checkHosts(op.service, meta, state(), (h) => this.claims.servesHost(h));
      }
      if (op.kind === 'delete') {
        next.set(name, undefined);
      } else if (!unchanged) {
        // The operator editing a source's record takes it over: the source's next sync must not
        // quietly undo the edit (it is told of the conflict instead).
        const takeover = existing && overrides(meta) && existing.meta.source !== meta.source;
        next.set(name, {
          service: op.service,
          meta: existing
            ? takeover
              ? { source: meta.source, created_at: existing.meta.created_at, updated_at: now }
              : { ...existing.meta, updated_at: now }
            : {
                source: meta.source,
                ...(meta.owner ? { owner: meta.owner } : {}),
                created_at: now,
                updated_at: now,
              },
        });
      } else {
        next.set(name, existing);
      }
    }
    const changed = [...next.keys()].filter(
      (n) => unloadableDeletes.has(n) || next.get(n) !== this.records.get(n),
    );
    if (changed.length === 0) return this.nothing();
    return this.commit(
      changed.map((n) => [n, next.get(n)]),
      meta,
    );
  }

  /** Writes whole records (with their own metadata) as one version: how a rollback restores a state. */
  restore(changes: [string, ServiceRecord | undefined][], meta: WriteMeta): Promise<WriteResult> {
    return this.enqueue(() => (changes.length === 0 ? this.nothing() : this.commit(changes, meta)));
  }

  /** Validates the resulting state, writes it with a new version, then swaps it in. */
  private async commit(
    changes: [string, ServiceRecord | undefined][],
    meta: WriteMeta,
  ): Promise<WriteResult> {
    // Before the claims are touched: while a probe runs, readers (sign-in redirects) must see
    // the current claims, not a dry run's.
    await this.checkNewPorts(changes);
    const routesBefore = this.claims.routeCount;
    const { claims, undo } = this.prepareClaims(changes);
    try {
      if (claims.routeCount === 0 && routesBefore > 0 && !meta.force) {
        throw new GatehouseError(
          'would_drop_all_routes',
          'this change would remove every route; repeat it with force to confirm',
          409,
        );
      }
      if (!meta.dryRun) await persistVersion(this.db, this.current + 1, changes, this.records, meta);
    } catch (err) {
      undo();
      throw err;
    }
    const created = changes.filter(([name, rec]) => rec && !this.records.has(name)).map(([name]) => name);
    if (meta.dryRun) {
      undo();
      return { version: this.current, changed: changes.map(([n]) => n), created };
    }
    for (const [name, rec] of changes) {
      if (rec) this.records.set(name, rec);
      else this.records.delete(name);
      const i = this.unloadable.findIndex((u) => u.name === name);
      if (i >= 0) this.unloadable.splice(i, 1);
    }
    this.claims = claims;
    this.current += 1;
    const names = changes.map(([n]) => n);
    this.events.emit('change', { version: this.current, names } satisfies ChangeEvent);
    return { version: this.current, changed: names, created };
  }

  /**
   * nginx -t does not bind ports, so a TCP route on a port another program holds would only fail at
   * reload, and keep every later change from reaching the proxy. Refuse it here instead.
   */
  private async checkNewPorts(changes: [string, ServiceRecord | undefined][]): Promise<void> {
    const probe = this.host.portFree;
    if (!probe || !changes.some(([, rec]) => rec?.service.tcp.length)) return;
    const held = new Set([...this.records.values()].flatMap((r) => r.service.tcp.map((t) => t.port)));
    for (const [, rec] of changes) {
      for (const [i, t] of (rec?.service.tcp ?? []).entries()) {
        if (!held.has(t.port) && !(await probe(t.port))) {
          throw conflict(`tcp.${i}.port`, `port ${t.port} is in use by another program on this machine`);
        }
      }
    }
  }

  /**
   * The claim index after `changes`, or the conflict that forbids them. One change (the common case)
   * is checked incrementally in place, with an undo for when the write fails later on; a batch is
   * checked by building the whole next index.
   */
  private prepareClaims(changes: [string, ServiceRecord | undefined][]): {
    claims: Claims;
    undo: () => void;
  } {
    if (changes.length === 1) {
      const [name, rec] = changes[0] as [string, ServiceRecord | undefined];
      const before = this.records.get(name)?.service;
      const claims = this.claims;
      if (before) claims.remove(before);
      const err = rec ? claims.check(rec.service) : undefined;
      if (err) {
        if (before) claims.add(before);
        throw err;
      }
      if (rec) claims.add(rec.service);
      const undo = () => {
        if (rec) claims.remove(rec.service);
        if (before) claims.add(before);
      };
      return { claims, undo };
    }
    const next = new Map(this.records);
    for (const [name, rec] of changes) {
      if (rec) next.set(name, rec);
      else next.delete(name);
    }
    const claims = Claims.build(
      [...next.values()].map((r) => r.service),
      this.reservedPorts,
      this.host.isLocal,
      this.host.reservedHosts,
    );
    return { claims, undo: () => undefined };
  }
}

function sameService(a: Service, b: Service): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
