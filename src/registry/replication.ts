import { sql } from 'kysely';
import type { Client, Notification } from 'pg';
import type { Part } from '../lifecycle.js';
import type { Logger } from '../observe/log.js';
import { DEAD_PEER_SQL, loadPg } from '../store/postgres.js';
import { VERSIONS_CHANNEL } from './persist.js';
import type { Registry } from './registry.js';

/** The channel a replica announces a certificate change on (payload: its replica id). */
export const CERTS_CHANNEL = 'gatehouse_certs';

/** The channel a replica announces a session revocation on (payload: `<replica> <kind> <ms> <id>`). */
export const REVOCATIONS_CHANNEL = 'gatehouse_revocations';

/** The channel a replica announces that users or sign-in providers changed (payload: its replica id). */
export const USERS_CHANNEL = 'gatehouse_users';

/** What a replica does with a topic's messages from the other replicas (see Replication.topic). */
export interface TopicHandlers {
  /** A message another replica announced (its own are not delivered back). */
  message: (payload: string) => void;
  /** Run on every (re)connect: messages sent while no one listened are lost, so read the store. */
  reconnected?: () => void;
}

/** Announces a message on a topic to the other replicas. */
export type Announce = (payload: string) => void;

/** A revocation (drivers/nginx/revocations.ts): `r` a session by id, `u` a user's sessions before `ms`. */
export interface PeerRevocation {
  kind: 'r' | 'u';
  id: string;
  ms: number;
}

/** Reconnecting after the database went away: the first wait, and the longest. */
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 1000;

/**
 * Keeps one replica's registry in step with the others sharing its PostgreSQL: one dedicated
 * connection LISTENs for the versions other replicas store, and each notification queues a catch-up
 * in the registry's write queue (serialised with this replica's own writes). On every (re)connect it
 * catches up once, since notifications sent while it was away are lost. Certificate changes travel
 * the same way, so every replica's nginx gets a certificate any one of them stored.
 */
export class Replication implements Part {
  private client: Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private delay = RETRY_FIRST_MS;
  private stopped = false;
  /** The connection is lost and that was logged (once, until it is back). */
  private down = false;
  private certsChanged: () => void = () => undefined;
  private revoked: (r: PeerRevocation) => void = () => undefined;
  private usersChanged: () => void = () => undefined;
  /** Runs on every (re)connect: what may have been missed while no one listened. */
  private reconnected: () => void = () => undefined;
  private unsubscribe: (() => void) | undefined;
  /** The LISTENs sent after start, one after the other (pg takes one query at a time per client). */
  private listening: Promise<unknown> = Promise.resolve();
  /** Topics by channel name (see topic()). */
  private readonly topics = new Map<string, TopicHandlers>();

  constructor(
    private readonly url: string,
    private readonly registry: Registry,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.unsubscribe = this.registry.onUnloadable((records) => {
      for (const u of records)
        this.log.error(
          { service: u.name, error: u.error },
          'service stored by another replica is not valid here: not served until it is fixed (PUT it again)',
        );
    });
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  /**
   * A channel of its own for one concern's messages among replicas (channel `gatehouse_<name>`,
   * payload `<replica> <message>`). Returns how to announce on it.
   */
  topic(name: string, handlers: TopicHandlers): Announce {
    if (!/^[a-z_]{1,40}$/.test(name)) throw new Error(`topic name ${name}: lowercase letters and _ only`);
    const channel = `gatehouse_${name}`;
    if (this.topics.has(channel)) throw new Error(`topic ${name} registered twice`);
    this.topics.set(channel, handlers);
    // Registered after start: listen now (connect() listens to every topic on each reconnect).
    const client = this.client;
    if (client)
      this.listening = this.listening
        .then(() => client.query(`listen ${channel}`))
        .then(
          () => handlers.reconnected?.(),
          (err: unknown) => this.lost(client, err),
        );
    return (payload) => {
      void sql`select pg_notify(${channel}, ${`${this.registry.replica} ${payload}`})`
        .execute(this.registry.db)
        .catch((err: unknown) =>
          this.log.warn({ err: String(err), topic: name }, 'could not tell the other replicas'),
        );
    };
  }

  /** What to do when another replica changed the certificates (this replica's nginx re-renders). */
  onCerts(fn: () => void): void {
    this.certsChanged = fn;
  }

  /** Tells the other replicas that this one changed the certificates. */
  announceCerts(): void {
    void sql`select pg_notify(${CERTS_CHANNEL}, ${this.registry.replica})`
      .execute(this.registry.db)
      .catch((err: unknown) =>
        this.log.warn({ err: String(err) }, 'could not tell the other replicas of a certificate change'),
      );
  }

  /**
   * What to do when another replica revoked a session or a user's sessions (this replica writes
   * the same revocation for its nginx and its edges), and, on every (re)connect, to read the
   * revocations the store holds (notifications sent while away are lost).
   */
  onRevocations(fn: (r: PeerRevocation) => void, resync: () => void): void {
    this.revoked = fn;
    this.reconnected = resync;
  }

  /**
   * What to do when another replica changed users or sign-in providers (the ways to sign in nginx
   * offers are files each replica writes); also run on every (re)connect.
   */
  onUsers(fn: () => void): void {
    this.usersChanged = fn;
  }

  /** Tells the other replicas that users or sign-in providers changed here. */
  announceUsers(): void {
    void sql`select pg_notify(${USERS_CHANNEL}, ${this.registry.replica})`
      .execute(this.registry.db)
      .catch((err: unknown) =>
        this.log.warn({ err: String(err) }, 'could not tell the other replicas of a user change'),
      );
  }

  /** Tells the other replicas of a revocation made here. */
  announceRevocation(r: PeerRevocation): void {
    const payload = `${this.registry.replica} ${r.kind} ${r.ms} ${r.id}`;
    void sql`select pg_notify(${REVOCATIONS_CHANNEL}, ${payload})`
      .execute(this.registry.db)
      .catch((err: unknown) =>
        this.log.warn({ err: String(err) }, 'could not tell the other replicas of a revocation'),
      );
  }

  private async connect(): Promise<void> {
    this.timer = undefined;
    if (this.stopped) return;
    const pg = await loadPg();
    const client = new pg.Client({
      connectionString: this.url,
      connectionTimeoutMillis: 5000,
      keepAlive: true,
    });
    client.on('notification', (n) => this.notified(n));
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection closed')));
    try {
      await client.connect();
      // A dead replica machine's listening session goes in ~8 s on the server's side too.
      await client.query(DEAD_PEER_SQL).catch(() => undefined);
      await client.query(`listen ${VERSIONS_CHANNEL}`);
      await client.query(`listen ${CERTS_CHANNEL}`);
      await client.query(`listen ${REVOCATIONS_CHANNEL}`);
      await client.query(`listen ${USERS_CHANNEL}`);
      for (const channel of this.topics.keys()) await client.query(`listen ${channel}`);
    } catch (err) {
      this.lost(client, err);
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.delay = RETRY_FIRST_MS;
    const wasDown = this.down;
    if (wasDown) {
      this.down = false;
      this.log.info('following the other replicas again');
    }
    // Listening now: what was stored before (while away, or before this start) is read once.
    this.catchUp();
    this.reconnected();
    this.usersChanged();
    if (wasDown) this.certsChanged();
    for (const t of this.topics.values()) t.reconnected?.();
  }

  /** The listening connection failed or closed: logged once, then reconnected with backoff. */
  private lost(client: Client, err: unknown): void {
    if (this.stopped || this.timer) return;
    if (this.client !== undefined && this.client !== client) return;
    this.client = undefined;
    client.removeAllListeners('end');
    client.removeAllListeners('notification');
    client.on('error', () => undefined);
    void client.end().catch(() => undefined);
    if (!this.down) {
      this.down = true;
      this.log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'lost the database connection that follows the other replicas; reconnecting',
      );
    }
    this.timer = setTimeout(() => void this.connect(), this.delay);
    this.timer.unref();
    this.delay = Math.min(this.delay * 2, RETRY_MAX_MS);
  }

  private notified(n: Notification): void {
    const topic = this.topics.get(n.channel);
    if (topic) {
      const payload = n.payload ?? '';
      const space = payload.indexOf(' ');
      const from = space < 0 ? payload : payload.slice(0, space);
      if (from !== this.registry.replica) topic.message(space < 0 ? '' : payload.slice(space + 1));
      return;
    }
    const [version, from] = (n.payload ?? '').split(' ');
    if (n.channel === REVOCATIONS_CHANNEL) {
      const [replica, kind, ms, id] = (n.payload ?? '').split(' ');
      if (
        replica !== this.registry.replica &&
        (kind === 'r' || kind === 'u') &&
        id &&
        Number.isFinite(Number(ms))
      )
        this.revoked({ kind, id, ms: Number(ms) });
      return;
    }
    if (n.channel === USERS_CHANNEL) {
      if (n.payload !== this.registry.replica) this.usersChanged();
      return;
    }
    if (n.channel === CERTS_CHANNEL) {
      if (n.payload !== this.registry.replica) this.certsChanged();
      return;
    }
    if (n.channel !== VERSIONS_CHANNEL || from === this.registry.replica) return;
    if (Number(version) > this.registry.version) this.catchUp();
  }

  private catchUp(): void {
    this.registry.catchUp().catch((err: unknown) => {
      // The next notification, write or reconnect catches up again.
      this.log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'catching up with the other replicas failed',
      );
    });
  }
}
