import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { fromZod, GatehouseError } from '../model/errors.js';
import { serviceSchema, type Service, type ServiceRecord, type Source } from '../model/service.js';
import { dialectOf, sqliteOf, type Db } from '../store/db.js';
import { applyCatchUp, readChanges, staleError, type CatchUp } from './catch-up.js';
import { checkNewPorts, Claims } from './claims.js';
import { checkSites } from './site-check.js';
import { GroupCommit } from './group-commit.js';
import {
  loadRecords,
  persistVersions,
  persistVersionsSync,
  StaleVersionError,
  type VersionRow,
  type WriteMeta,
} from './persist.js';
import { planOps } from './plan.js';
import type { ChangeEvent, HostChecks, Op, WriteResult } from './registry-types.js';
import { independent } from './rebase.js';
import { Staging } from './staging.js';
import { WriteQueue, type Turn as QueueTurn } from './write-queue.js';

export type { WriteMeta } from './persist.js';
export type { ChangeEvent, HostChecks, Op, WriteResult } from './registry-types.js';

/** A write's turn in the queue: its answer, or (staged for the group commit) the answer to come. */
type Turn = QueueTurn<WriteResult>;

/**
 * The single source of truth for services. Holds the current state in memory (loaded at start),
 * validates every write against the whole of it, persists it with a new version and only then makes
 * it visible and tells listeners. Writes are serialised: each is checked against the state every
 * earlier write leaves, including those staged and not yet stored. The writes staged within one
 * turn of the event loop are stored together, one version each, in one transaction (group commit);
 * each is answered once that transaction has committed.
 */
export class Registry {
  private readonly records = new Map<string, ServiceRecord>();
  /** Stored records that failed validation at start-up: kept in the database, not served. */
  readonly unloadable: { name: string; error: string }[] = [];
  private claims: Claims;
  private current = 0;
  private readonly events = new EventEmitter();
  /** Writes checked and waiting for their group commit: what later writes are checked against. */
  private readonly staging: Staging;
  /** The staging's epoch when the running write's turn began. */
  private turnEpoch = 0;
  /** The running write was computed before its turn (a rollback): see VersionRow.fixed. */
  private turnFixed = false;
  private readonly group: GroupCommit<VersionRow>;
  /** Names this process among replicas sharing one PostgreSQL (in the notifications it sends). */
  readonly replica = randomUUID().slice(0, 8);
  /** The staging's epoch after a batch was refused because another replica wrote first. */
  private staleEpoch = -1;
  /** Staged writes were renumbered after other replicas' versions (see rebase). */
  private rebased = false;
  private readonly writes: WriteQueue<WriteResult>;

  private constructor(
    readonly db: Db,
    private readonly reservedPorts: Map<number, string>,
    private readonly host: HostChecks,
  ) {
    this.claims = new Claims(reservedPorts, host.isLocal, host.reservedHosts);
    this.staging = new Staging(this.records, 0);
    // SQLite writes synchronously through its handle (measured: P5); PostgreSQL through the pool.
    const sqlite = dialectOf(db) === 'sqlite' ? sqliteOf(db) : undefined;
    this.writes = new WriteQueue<WriteResult>({
      db,
      shared: !sqlite,
      staged: () => this.staging.size,
      drained: () => this.group.submit(undefined),
      version: () => this.current,
      caughtUp: (c) => this.caughtUp(c),
    });
    this.group = new GroupCommit<VersionRow>({
      write: sqlite
        ? (rows) => persistVersionsSync(sqlite, rows)
        : (rows) =>
            persistVersions(this.writes.writer, rows, this.replica, (conn, stored) =>
              this.rebase(conn, stored),
            ),
      // A Kysely transaction (users, links) spans awaits on the same handle: the batch waits for it
      // (so no such transaction may wait for a registry write: none does).
      ready: () => !sqlite?.inTransaction,
      committed: (rows) => this.committed(rows),
      // Every staged write was in the batch (it is written synchronously, between two turns).
      failed: (_rows, err) => {
        this.staging.takeBack(this.current);
        if (this.rebased) this.rebuildClaims();
        if (!(err instanceof StaleVersionError)) return undefined;
        // Another replica wrote first: catch up (ahead of the writes' second turns), then they run again.
        this.staleEpoch = this.staging.epoch;
        void this.writes.catchUp(true).catch(() => undefined);
        return staleError();
      },
    });
  }

  /** Batches the group commit wrote (how many writes each held): for tests and the bench. */
  get commitStats(): { batches: number; items: number; largest: number; refused: number } {
    return { ...this.group.stats };
  }

  static async open(db: Db, reservedPorts: Map<number, string>, host: HostChecks = {}): Promise<Registry> {
    const r = new Registry(db, reservedPorts, host);
    const loaded = await loadRecords(db);
    for (const [name, rec] of loaded.records) r.records.set(name, rec);
    r.unloadable.push(...loaded.unloadable);
    // Settings may have changed since the records were written (a new HTTP port, say); a record
    // that now collides is kept and reported by the next write rather than lost at start-up.
    for (const rec of r.records.values()) r.claims.add(rec.service);
    r.current = r.staging.lastVersion = loaded.version;
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

  /** Records another replica stored that this binary does not accept (set aside, as at start-up). */
  onUnloadable(fn: (records: { name: string; error: string }[]) => void): () => void {
    this.events.on('unloadable', fn);
    return () => this.events.off('unloadable', fn);
  }

  /**
   * Takes in what other replicas stored since this one's version (PostgreSQL), in the write queue:
   * after the writes queued before it are stored, before those queued after it are checked.
   */
  catchUp(): Promise<void> {
    return this.writes.catchUp();
  }

  /**
   * Other replicas stored versions up to `stored` while this one's batch waited for the write lock:
   * when they touch nothing the staged writes were checked on (`independent`), they are taken in and
   * every staged write is numbered on from them, so the batch is stored rather than refused and run
   * again. Writes being checked meanwhile run again (their turn began before the renumbering).
   */
  private async rebase(conn: Db, stored: number): Promise<boolean> {
    if (stored < this.current) return false;
    const c = await readChanges(conn, this.current);
    if (!c || c === 'gap' || c.version !== stored) return false;
    if (!independent(c, this.staging.rows(), this.records)) return false;
    this.staging.renumber(stored - this.current);
    this.staleEpoch = this.staging.epoch;
    this.rebased = true;
    this.caughtUp(c, false);
    return true;
  }

  /** After a refused batch that followed a rebase: the claims again from the stored records. */
  private rebuildClaims(): void {
    this.claims = new Claims(this.reservedPorts, this.host.isLocal, this.host.reservedHosts);
    for (const rec of this.records.values()) this.claims.add(rec.service);
    this.rebased = false;
  }

  /** Applies what other replicas stored to the records and claims; listeners are told once. */
  private caughtUp(c: CatchUp, idle = true): void {
    const names = applyCatchUp(c, this.records, this.claims, this.unloadable);
    this.current = c.version;
    if (idle) this.staging.lastVersion = c.version;
    if (c.unloadable.length > 0) this.events.emit('unloadable', c.unloadable);
    if (names.size > 0)
      this.events.emit('change', { version: this.current, names: [...names] } satisfies ChangeEvent);
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
      // Against what the write will meet: stored, and staged by the writes before it.
      const gone: Op[] = [];
      for (const [name, r] of this.staging.entries()) {
        if (
          r &&
          r.meta.source === meta.source &&
          (r.meta.owner ?? '') === (meta.owner ?? '') &&
          !wanted.has(name)
        )
          gone.push({ kind: 'delete', name });
      }
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
      const rec = this.view(name);
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

  /**
   * Writes are serialised: `fn` runs once every write queued before it has been checked and staged
   * (or refused); its caller is answered once it is stored.
   */
  private enqueue(fn: () => Turn | Promise<Turn>, again = true): Promise<WriteResult> {
    return this.writes.run(() => {
      this.turnEpoch = this.staging.epoch;
      this.turnFixed = !again;
      return fn();
    }, again);
  }

  /**
   * The answer to a write that changes nothing. With writes staged, "nothing" is relative to them:
   * it is answered once they are stored (and refused if they cannot be).
   */
  private nothing(): Turn {
    if (this.staging.size === 0) return { version: this.current, changed: [], created: [] };
    // Its number may change before it is stored (see rebase): read once stored.
    const last = this.staging.last;
    return {
      done: this.group
        .submit(undefined)
        .then(() => ({ version: last?.version ?? this.current, changed: [], created: [] })),
    };
  }

  private view(name: string): ServiceRecord | undefined {
    return this.staging.view(name);
  }

  /** A batch is stored: its records become visible, listeners are told once. */
  private committed(rows: VersionRow[]): void {
    const names = new Set<string>();
    for (const row of rows) {
      for (const { name, after } of row.changes) {
        if (after) this.records.set(name, after);
        else this.records.delete(name);
        const i = this.unloadable.findIndex((u) => u.name === name);
        if (i >= 0) this.unloadable.splice(i, 1);
        names.add(name);
      }
      this.current = row.version;
    }
    this.staging.stored(rows.length);
    if (this.staging.size === 0) this.rebased = false;
    if (names.size > 0)
      this.events.emit('change', { version: this.current, names: [...names] } satisfies ChangeEvent);
  }

  private async applyNow(ops: Op[], meta: WriteMeta): Promise<Turn> {
    const changes = planOps(ops, meta, {
      staging: this.staging,
      unloadable: this.unloadable,
      servesHost: (h) => this.claims.servesHost(h),
    });
    return changes.length === 0 ? this.nothing() : this.commit(changes, meta);
  }

  /** Writes whole records (with their own metadata) as one version: how a rollback restores a state. */
  restore(changes: [string, ServiceRecord | undefined][], meta: WriteMeta): Promise<WriteResult> {
    // Computed from the state before the turn: not run again on a state another replica changed.
    return this.enqueue(() => (changes.length === 0 ? this.nothing() : this.commit(changes, meta)), false);
  }

  /**
   * Validates the resulting state and stages it with a new version for the group commit; the turn's
   * answer comes once it is stored, and only then is it visible.
   */
  private async commit(changes: [string, ServiceRecord | undefined][], meta: WriteMeta): Promise<Turn> {
    // Before the claims are touched: while a probe runs, readers (sign-in redirects) must see
    // the current claims, not a dry run's.
    await checkNewPorts(this.host.portFree, this.staging.entries(), changes);
    await checkSites(this.db, changes);
    if (this.turnEpoch !== this.staging.epoch) {
      if (this.staleEpoch === this.staging.epoch) throw staleError();
      throw new GatehouseError(
        'write_retry',
        'a write this one was checked against could not be stored; nothing was written, try again',
        503,
      );
    }
    const routesBefore = this.claims.routeCount;
    const claimsBefore = this.claims;
    const { claims, undo } = this.claims.after(changes, this.staging);
    try {
      if (claims.routeCount === 0 && routesBefore > 0 && !meta.force) {
        throw new GatehouseError(
          'would_drop_all_routes',
          'this change would remove every route; repeat it with force to confirm',
          409,
        );
      }
    } catch (err) {
      undo();
      throw err;
    }
    const created = changes.filter(([name, rec]) => rec && !this.view(name)).map(([name]) => name);
    const names = changes.map(([n]) => n);
    if (meta.dryRun) {
      undo();
      return { version: this.current, changed: names, created };
    }
    this.claims = claims;
    const row = this.staging.stage(changes, meta, () => {
      undo();
      this.claims = claimsBefore;
    });
    if (this.turnFixed) row.fixed = true;
    return {
      done: this.group.submit(row).then(() => ({ version: row.version, changed: names, created })),
    };
  }
}
