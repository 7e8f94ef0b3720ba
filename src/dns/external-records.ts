import type { Settings } from '../model/settings.js';
import type { Logger } from '../observe/log.js';
import type { Db } from '../store/db.js';
import type { RecordProvider, RecordSet } from './records.js';
import {
  desiredRecords,
  planHost,
  recordTarget,
  type ActualHost,
  type DesiredHost,
  type EdgeAddress,
  type HostPlan,
  type RecordTarget,
  type ServiceHosts,
} from './record-plan.js';
import { RecordPasses, type PassKind } from './record-passes.js';
import { readHost } from './record-read.js';
import {
  targetView,
  type DnsRecordEvent,
  type HostRecords,
  type RecordState,
  type RecordsStatus,
  type RecordsSummary,
} from './record-status.js';

export type {
  DnsRecordEvent,
  HostRecords,
  RecordState,
  RecordsStatus,
  RecordsSummary,
} from './record-status.js';

export interface ExternalRecordsOptions {
  settings: Pick<Settings, 'dns_records' | 'dns_records_target' | 'dns_records_ttl'>;
  db: Db;
  /** This installation's id (store/instance-id.ts), as the ownership TXT records carry it. */
  owner: string;
  services: () => ServiceHosts[];
  /** Subscribes to registry changes; returns the unsubscribe. */
  onServicesChange: (fn: () => void) => () => void;
  /** The zones of the DNS providers, and the provider that manages records for a name. */
  zones: () => Promise<string[]>;
  recordsFor: (name: string) => Promise<RecordProvider | undefined>;
  edges: () => Promise<EdgeAddress[]>;
  event: (kind: DnsRecordEvent, host: string, detail: string) => void;
  log: Logger;
  debounceMs?: number;
  /** Edges and providers are looked at this often (a changed address or zone is followed). */
  watchMs?: number;
  /** Every host is read back from its provider this often (a record changed by hand is seen). */
  fullPassMs?: number;
  /** Hosts written at once. */
  concurrency?: number;
}

/** Hosts Gatehouse created records for, in `meta` under this prefix: removed with their service after a restart too. */
const TRACK_PREFIX = 'dns-record ';
const MAX_BACKOFF_MS = 5 * 60_000;
/** What `applied` holds for a host whose records are to be removed. */
const GONE = 'gone';

/**
 * Keeps the external records of every host public edges serve at its zone's provider (the pure
 * plan is in record-plan.ts). Runs on the leader: a registry change is followed after a short
 * debounce, edges and providers are looked at every few seconds, every host is read back in a
 * full pass every few minutes; a failed host is retried with backoff and never holds the others.
 */
export class ExternalRecords {
  private readonly status = new Map<string, HostRecords>();
  /** Per host: the desired sets (as JSON) last found in place. */
  private readonly applied = new Map<string, string>();
  private readonly failures = new Map<string, number>();
  private tracked = new Map<string, string>();
  private target: RecordTarget | undefined;
  private lastFull: string | null = null;
  private readonly passes: RecordPasses;

  constructor(private readonly o: ExternalRecordsOptions) {
    this.passes = new RecordPasses(o, (full) => this.pass(full));
  }

  get enabled(): boolean {
    return this.o.settings.dns_records === 'on';
  }

  /** Starts following (on the leader): a full pass now, then changes, the watch and the periodic pass. */
  async start(): Promise<void> {
    if (!this.enabled || this.passes.running) return;
    await this.passes.start(async () => {
      const rows = await this.o.db
        .selectFrom('meta')
        .selectAll()
        .where('key', 'like', `${TRACK_PREFIX}%`)
        .execute();
      this.tracked = new Map(rows.map((r) => [r.key.slice(TRACK_PREFIX.length), r.value]));
    });
  }

  async stop(): Promise<void> {
    await this.passes.stop();
  }

  /** Asks for a pass (a full one reads every host back); passes never overlap, requests coalesce. */
  kick(kind: PassKind = 'changed'): void {
    this.passes.kick(kind);
  }

  /** Resolves once no pass runs or is asked for (tests, shutdown). */
  async settled(): Promise<void> {
    await this.passes.settled();
  }

  /**
   * What GET /dns/records shows. The leader's own view; another replica reads every host from its
   * provider now and says what the leader would do (pending) without writing.
   */
  async view(leading: boolean): Promise<RecordsStatus> {
    const base = { enabled: this.enabled, leading, owner: this.o.owner };
    if (!this.enabled) return { ...base, target: targetView(undefined), last_full_pass: null, records: [] };
    if (this.passes.running) {
      const records = [...this.status.values()].sort((a, b) => a.host.localeCompare(b.host));
      return { ...base, target: targetView(this.target), last_full_pass: this.lastFull, records };
    }
    const { desired, target } = await this.inputs();
    const records: HostRecords[] = [];
    await this.each([...desired.keys()], async (host) => {
      const d = desired.get(host) as DesiredHost;
      const r = await this.look(host, d, false);
      if (r) records.push(r);
    });
    records.sort((a, b) => a.host.localeCompare(b.host));
    return { ...base, target: targetView(target), last_full_pass: null, records };
  }

  /** For GET /status on the leader: hosts by state, and those in conflict or error with why. */
  summary(): RecordsSummary | undefined {
    if (!this.passes.running) return undefined;
    const all = [...this.status.values()];
    const count = (s: RecordState) => all.filter((r) => r.state === s).length;
    return {
      ok: count('ok'),
      pending: count('pending'),
      conflict: count('conflict'),
      error: count('error'),
      problems: all
        .filter((r) => r.state === 'conflict' || r.state === 'error')
        .sort((a, b) => a.host.localeCompare(b.host))
        .slice(0, 20)
        .map((r) => ({ host: r.host, state: r.state, message: r.message, retry_at: r.retry_at })),
    };
  }

  private async inputs(): Promise<{ desired: Map<string, DesiredHost>; target: RecordTarget | undefined }> {
    const [edges, zones] = await Promise.all([this.o.edges(), this.o.zones()]);
    const target = recordTarget(this.o.settings.dns_records_target, edges);
    const desired = desiredRecords(this.o.services(), target, this.o.settings.dns_records_ttl, zones);
    return { desired, target };
  }

  private async pass(full: boolean): Promise<void> {
    const { desired, target } = await this.inputs();
    this.target = target;
    const now = Date.now();
    const hosts = new Set<string>();
    const consider = (host: string, k: string) => {
      const retry = this.status.get(host)?.retry_at;
      const retryAt = retry ? Date.parse(retry) : undefined;
      const same = this.applied.get(host) === k;
      // A failed host waits out its backoff, unless what it should have changed meanwhile.
      if (retryAt !== undefined && retryAt > now && same) return;
      if (full || retryAt !== undefined || !same) hosts.add(host);
    };
    for (const [host, d] of desired) consider(host, key(d));
    for (const host of this.tracked.keys()) if (!desired.has(host)) consider(host, GONE);
    // Hosts neither wanted nor ours any more leave the view.
    for (const host of this.status.keys())
      if (!desired.has(host) && !this.tracked.has(host)) this.forgetStatus(host);
    const started = Date.now();
    await this.each([...hosts], async (host) => {
      await this.look(host, desired.get(host), true);
    });
    if (hosts.size > 0)
      this.o.log.debug({ full, hosts: hosts.size, ms: Date.now() - started }, 'external records: pass');
    if (full) this.lastFull = new Date().toISOString();
    // Failed hosts are looked at again at the earliest retry.
    this.passes.retryAt(
      [...this.status.values()].flatMap((s) => (s.retry_at ? [Date.parse(s.retry_at)] : [])),
    );
  }

  /** Runs `fn` for every host, `concurrency` at a time. */
  private async each(hosts: string[], fn: (host: string) => Promise<void>): Promise<void> {
    const queue = [...hosts];
    const worker = async () => {
      for (let h = queue.shift(); h !== undefined; h = queue.shift()) await fn(h);
    };
    await Promise.all(Array.from({ length: Math.min(this.o.concurrency ?? 4, queue.length) }, worker));
  }

  /** Reads one host at its provider, plans it and (with `write`) carries the plan out. */
  private async look(
    host: string,
    d: DesiredHost | undefined,
    write: boolean,
  ): Promise<HostRecords | undefined> {
    const zone = d?.zone ?? this.tracked.get(host) ?? '';
    const row = (state: RecordState, actual: RecordSet[], message = ''): HostRecords => ({
      host,
      zone,
      services: d?.services ?? [],
      state,
      desired: d?.sets ?? [],
      actual,
      message,
      updated_at: new Date().toISOString(),
      retry_at: null,
    });
    if (d?.problem) {
      if (write) this.applied.set(host, key(d));
      return this.set(row('error', [], d.problem), write);
    }
    let provider: RecordProvider | undefined;
    try {
      provider = await this.o.recordsFor(host);
    } catch (err) {
      // The store could not say (never taken for a removed provider: that would drop the host).
      return write
        ? this.failed(row('error', []), err, 'provider lookup', d)
        : row('error', [], errText(err));
    }
    if (!provider) {
      if (!d) {
        // Its provider was removed: nothing can be written there any more.
        if (write) await this.untrack(host);
        return undefined;
      }
      return this.set(row('error', [], `the DNS provider of ${zone} cannot manage records`), write);
    }
    let actual: ActualHost;
    try {
      actual = { ...(await readHost(provider, host, this.o.owner)), tracked: this.tracked.has(host) };
    } catch (err) {
      return write ? this.failed(row('error', []), err, 'read', d) : row('error', [], errText(err));
    }
    const plan = planHost(host, d, actual, this.o.owner, this.o.settings.dns_records_ttl);
    if (plan.state === 'conflict') {
      if (!write || !d) return row('conflict', actual.sets, plan.reason);
      const before = this.status.get(host);
      if (this.tracked.has(host)) await this.untrack(host);
      if (before?.state !== 'conflict' || before.message !== plan.reason)
        this.o.event('dns_record_conflict', host, `${host}: ${plan.reason}; left as it is`);
      // Looked at again in the next full pass, or when what it should have changes.
      this.applied.set(host, key(d));
      return this.set(row('conflict', actual.sets, plan.reason), true);
    }
    if (plan.state === 'ok') {
      if (!d) {
        if (write) await this.untrack(host);
        return undefined;
      }
      if (write && actual.owner.state === 'ours' && !this.tracked.has(host)) await this.track(host, d.zone);
      if (write) this.applied.set(host, key(d));
      return this.set(row('ok', actual.sets), write);
    }
    if (!write) return row('pending', actual.sets);
    return this.carryOut(provider, host, d, plan, row);
  }

  private async carryOut(
    provider: RecordProvider,
    host: string,
    d: DesiredHost | undefined,
    plan: Extract<HostPlan, { state: 'write' }>,
    row: (state: RecordState, actual: RecordSet[], message?: string) => HostRecords,
  ): Promise<HostRecords | undefined> {
    try {
      // Tracked before the first write: a crash half-way still leaves it ours to finish or remove.
      if (d && !this.tracked.has(host)) await this.track(host, d.zone);
      // Removals one after the other (the mark last); then the puts at once (each its own set).
      for (const step of plan.steps) if (step.op === 'remove') await provider.remove(step.name, step.type);
      const puts = await Promise.allSettled(
        plan.steps.flatMap((step) => (step.op === 'put' ? [provider.put(step.set)] : [])),
      );
      const refused = puts.find((p) => p.status === 'rejected');
      if (refused) throw refused.reason;
    } catch (err) {
      return this.failed(row('error', []), err, plan.action, d);
    }
    this.failures.delete(host);
    const what = d?.sets.map((s) => `${s.type} ${s.values.join(',')}`).join('; ') ?? '';
    if (!d) {
      await this.untrack(host);
      this.forgetStatus(host);
      this.o.event('dns_record_removed', host, `${host}: records removed`);
      this.o.log.info({ host }, 'external records: removed');
      return undefined;
    }
    this.applied.set(host, key(d));
    this.o.event(`dns_record_${plan.action === 'create' ? 'created' : 'changed'}`, host, `${host}: ${what}`);
    this.o.log.info({ host, records: what, action: plan.action }, 'external records: written');
    return this.set(row('ok', d.sets), true);
  }

  private failed(r: HostRecords, err: unknown, what: string, d: DesiredHost | undefined): HostRecords {
    const n = (this.failures.get(r.host) ?? 0) + 1;
    this.failures.set(r.host, n);
    const wait = Math.min(MAX_BACKOFF_MS, 2000 * 2 ** (n - 1));
    const message = `${what} failed: ${errText(err)}`;
    const before = this.status.get(r.host);
    const out = {
      ...r,
      actual: before?.actual ?? [],
      message,
      retry_at: new Date(Date.now() + wait).toISOString(),
    };
    // Looked at for this: the next pass leaves it to its retry.
    this.applied.set(r.host, d ? key(d) : GONE);
    if (n === 1) this.o.event('dns_record_failed', r.host, `${r.host}: ${message}`.slice(0, 480));
    this.o.log.warn(
      { host: r.host, err: errText(err), attempt: n, retry_in_ms: wait },
      'external records: failed',
    );
    return this.set(out, true);
  }

  private set(r: HostRecords, write: boolean): HostRecords {
    if (write) {
      if (r.state !== 'error') this.failures.delete(r.host);
      this.status.set(r.host, r);
    }
    return r;
  }

  private forgetStatus(host: string): void {
    this.status.delete(host);
    this.applied.delete(host);
    this.failures.delete(host);
  }

  private async track(host: string, zone: string): Promise<void> {
    this.tracked.set(host, zone);
    await this.o.db
      .insertInto('meta')
      .values({ key: `${TRACK_PREFIX}${host}`, value: zone })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: zone }))
      .execute();
  }

  private async untrack(host: string): Promise<void> {
    this.tracked.delete(host);
    this.forgetStatus(host);
    await this.o.db.deleteFrom('meta').where('key', '=', `${TRACK_PREFIX}${host}`).execute();
  }
}

function key(d: DesiredHost): string {
  return JSON.stringify(d.sets);
}

function errText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 300);
}
