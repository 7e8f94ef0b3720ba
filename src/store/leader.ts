import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { sql } from 'kysely';
import type { Client } from 'pg';
import type { Part } from '../lifecycle.js';
import type { Logger } from '../observe/log.js';
import type { Source } from '../sources/source.js';
import type { Db } from './db.js';
import { DEAD_PEER_SQL, loadPg } from './postgres.js';

/** Key of the session-level advisory lock the leader holds ("lead"; migrations use "gate"). */
export const LEADER_LOCK_KEY = 0x6c656164;
/** Each replica's election connection carries this application_name + its id (pg_stat_activity). */
export const REPLICA_APP_PREFIX = 'gatehouse-replica:';

/** Undoes what a leader's job started. */
export type StopFn = () => void | Promise<void>;

/** GET /status `replica`: this replica, whether it leads, and who does. */
export interface ReplicaStatus {
  id: string;
  leading: boolean;
  /** The leader's id; null when none is known (no replica holds the lock, or the database is away). */
  leader: string | null;
  /** Every replica with an election connection to the database (this one on SQLite). */
  replicas: string[];
  store: 'sqlite' | 'postgresql';
}

/** `replica_name`, else hostname-pid-random (unique per process; fits application_name's 63 bytes). */
export function replicaId(name?: string): string {
  if (name) return name;
  const host =
    hostname()
      .replace(/[^A-Za-z0-9.-]/g, '-')
      .slice(0, 24) || 'host';
  return `${host}-${process.pid}-${randomBytes(2).toString('hex')}`;
}

interface Job {
  name: string;
  start: () => StopFn | Promise<StopFn>;
  stop: StopFn | undefined;
  /** Starts and stops of one job run one after the other. */
  chain: Promise<void>;
  removed: boolean;
  /** Why its last start failed (thrown by the part's start: a replica that leads at once fails fast). */
  error?: unknown;
}

/**
 * Work that must run once among replicas (ACME, sweeps, pruning, scheduled backups, Docker) runs
 * only while this replica leads: each job is started when leadership comes and stopped when it goes.
 */
export abstract class Leader implements Part {
  private leadingNow = false;
  /** One process per store (SQLite): always leads, no election to report. */
  protected readonly sole: boolean = false;
  private readonly jobs = new Set<Job>();

  constructor(
    readonly id: string,
    protected readonly log: Logger,
  ) {}

  abstract start(): Promise<void>;
  abstract stop(): Promise<void>;
  abstract status(): Promise<ReplicaStatus>;

  get leading(): boolean {
    return this.leadingNow;
  }

  /** A part (for the lifecycle) that runs `start` while this replica leads, and its stop when it no longer does. */
  whileLeading(name: string, start: () => StopFn | Promise<StopFn>): Part {
    const job: Job = { name, start, stop: undefined, chain: Promise.resolve(), removed: false };
    return {
      start: async () => {
        this.jobs.add(job);
        if (this.leadingNow) this.run(job, true);
        await job.chain;
        const err = job.error;
        delete job.error;
        if (err !== undefined) throw err;
      },
      stop: async () => {
        job.removed = true;
        this.jobs.delete(job);
        this.run(job, false);
        await job.chain;
      },
    };
  }

  private run(job: Job, on: boolean): void {
    job.chain = job.chain.then(async () => {
      try {
        if (on) {
          if (job.stop || job.removed || !this.leadingNow) return;
          delete job.error;
          job.stop = await job.start();
        } else {
          const stop = job.stop;
          job.stop = undefined;
          await stop?.();
        }
      } catch (err) {
        if (on) job.error = err;
        this.log.error({ job: job.name, err: String(err) }, `leader job failed to ${on ? 'start' : 'stop'}`);
      }
    });
  }

  /** Leading changes: every job is started (or stopped) now. */
  protected setLeading(on: boolean): void {
    if (on === this.leadingNow) return;
    this.leadingNow = on;
    for (const job of this.jobs) this.run(job, on);
    // Alone (SQLite) there is nothing to elect: said only at debug.
    if (on)
      this.log[this.sole ? 'debug' : 'info']({ replica: this.id }, 'this replica leads: leader jobs started');
    else
      this.log[this.sole ? 'debug' : 'warn'](
        { replica: this.id },
        'this replica no longer leads: leader jobs stopped',
      );
  }

  /** Waits until every job has finished starting or stopping. */
  protected async settled(): Promise<void> {
    await Promise.all([...this.jobs].map((j) => j.chain));
  }
}

/** SQLite: one process per store, always the leader. */
class SoleLeader extends Leader {
  protected override readonly sole = true;
  async start(): Promise<void> {
    this.setLeading(true);
  }
  async stop(): Promise<void> {
    this.setLeading(false);
    await this.settled();
  }
  async status(): Promise<ReplicaStatus> {
    return { id: this.id, leading: this.leading, leader: this.id, replicas: [this.id], store: 'sqlite' };
  }
}

export interface PgLeaderOptions {
  /** How often a follower tries the lock and the leader checks its connection. */
  retryMs?: number;
  /** A check that takes longer counts as a lost connection. */
  timeoutMs?: number;
}

/**
 * PostgreSQL: the leader holds a session-level advisory lock on a dedicated connection (not the
 * pool). A dead process's session ends with its TCP connection and the lock goes with it; followers
 * try every second. The leader checks its connection as often, and stops leading (its jobs stopped)
 * the moment the connection errs, closes or does not answer, which is before the server notices the
 * session is gone and lets anyone else take the lock.
 */
class PgLeader extends Leader {
  private client: Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private ticking: Promise<void> | undefined;
  private readonly retryMs: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly url: string,
    private readonly db: Db,
    id: string,
    log: Logger,
    opts: PgLeaderOptions = {},
  ) {
    super(id, log);
    this.retryMs = opts.retryMs ?? 1000;
    this.timeoutMs = opts.timeoutMs ?? 3000;
  }

  async start(): Promise<void> {
    // A first try now: a lone replica leads before the jobs are registered.
    await this.tick();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick().finally(() => this.schedule()), this.retryMs);
    this.timer.unref();
  }

  private tick(): Promise<void> {
    this.ticking ??= this.attempt().finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  private async attempt(): Promise<void> {
    let client = this.client;
    try {
      client ??= await this.connect();
      if (this.leading) {
        await client.query('select 1');
        return;
      }
      const r = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1) as ok', [
        LEADER_LOCK_KEY,
      ]);
      if (r.rows[0]?.ok && this.client === client && !this.stopped) this.setLeading(true);
    } catch (err) {
      if (client) this.lost(client, err instanceof Error ? err.message : String(err));
      else this.log.debug({ err: String(err) }, 'leader election: database not reachable; trying again');
    }
  }

  private async connect(): Promise<Client> {
    const pg = await loadPg();
    const c = new pg.Client({
      connectionString: this.url,
      application_name: `${REPLICA_APP_PREFIX}${this.id}`,
      // A peer that vanished without closing (a cable, a host) is noticed by TCP keepalive too.
      keepAlive: true,
      keepAliveInitialDelayMillis: 1000,
      connectionTimeoutMillis: this.timeoutMs,
      query_timeout: this.timeoutMs,
    });
    c.on('error', (err) => this.lost(c, err.message));
    c.on('end', () => this.lost(c, 'connection closed'));
    try {
      await c.connect();
    } catch (err) {
      c.connection.stream.destroy();
      throw err;
    }
    // The server's side too: a dead leader machine's session (and its lock) goes in ~8 s, not minutes.
    await c.query(DEAD_PEER_SQL).catch(() => undefined);
    if (this.stopped) {
      await c.end().catch(() => undefined);
      throw new Error('stopped');
    }
    this.client = c;
    return c;
  }

  /** The election connection is gone or unusable: stop leading at once, then drop it. */
  private lost(c: Client, reason: string): void {
    if (this.client !== c) return;
    this.client = undefined;
    if (this.leading) {
      this.log.warn({ reason }, 'leader lost its database connection');
      this.setLeading(false);
    }
    c.connection.stream.destroy();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
    // The jobs stop before the lock is let go: never two leaders' jobs at once.
    this.setLeading(false);
    await this.settled();
    const c = this.client;
    this.client = undefined;
    if (c) {
      await Promise.race([c.end(), new Promise((r) => setTimeout(r, 2000).unref())]).catch(() => undefined);
      c.connection.stream.destroy();
    }
  }

  async status(): Promise<ReplicaStatus> {
    const base = { id: this.id, leading: this.leading, store: 'postgresql' as const };
    try {
      const [holder, all] = await Promise.all([
        sql<{ name: string }>`
          select a.application_name as name from pg_locks l join pg_stat_activity a on a.pid = l.pid
          where l.locktype = 'advisory' and l.granted and l.classid = 0 and l.objsubid = 1
            and l.objid = ${LEADER_LOCK_KEY}
            and l.database = (select oid from pg_database where datname = current_database())`.execute(
          this.db,
        ),
        sql<{ name: string }>`
          select application_name as name from pg_stat_activity
          where datname = current_database() and application_name like ${`${REPLICA_APP_PREFIX}%`}
          order by backend_start`.execute(this.db),
      ]);
      const strip = (n: string) => n.slice(REPLICA_APP_PREFIX.length);
      const name = holder.rows[0]?.name;
      return {
        ...base,
        leader: name?.startsWith(REPLICA_APP_PREFIX) ? strip(name) : null,
        replicas: [...new Set(all.rows.map((r) => strip(r.name)))],
      };
    } catch {
      return { ...base, leader: this.leading ? this.id : null, replicas: [this.id] };
    }
  }
}

/** Runs `task` now and every `ms` (a failed run waits for the next); returns its stop. */
export function runEvery(ms: number, task: () => Promise<unknown>): StopFn {
  void task().catch(() => undefined);
  const timer = setInterval(() => void task().catch(() => undefined), ms);
  timer.unref();
  return () => clearInterval(timer);
}

/** The election for this store: PostgreSQL's advisory lock, or (SQLite) always this replica. */
export function openLeader(
  o: { database_url?: string | undefined; replica_name?: string | undefined },
  db: Db,
  log: Logger,
  opts: PgLeaderOptions = {},
): Leader {
  const id = replicaId(o.replica_name);
  return o.database_url ? new PgLeader(o.database_url, db, id, log, opts) : new SoleLeader(id, log);
}

/**
 * A discovery source that runs on the leader only (Docker, when several replicas watch one daemon):
 * opened afresh each time this replica comes to lead, stopped when it no longer does.
 */
export function leaderOnlySource(leader: Leader, name: Source['name'], open: () => Promise<Source>): Source {
  let inner: Source | undefined;
  // The names the running source knows (Docker's containers), for upstreams that name them.
  const listeners = new Set<() => void>();
  const tell = () => listeners.forEach((fn) => fn());
  let unsubscribe: (() => void) | undefined;
  const part = leader.whileLeading(name, async () => {
    const s = await open();
    await s.start();
    inner = s;
    unsubscribe = s.names?.onChange(tell);
    tell();
    return async () => {
      unsubscribe?.();
      inner = undefined;
      tell();
      await s.stop();
    };
  });
  return {
    name,
    start: async () => part.start(),
    stop: async () => part.stop(),
    status: () => inner?.status() ?? {},
    names: {
      lookup: (n) => inner?.names?.lookup(n),
      onChange: (fn) => {
        listeners.add(fn);
        return () => listeners.delete(fn);
      },
    },
  };
}
