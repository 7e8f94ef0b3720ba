import { randomBytes } from 'node:crypto';
import type { Part } from '../lifecycle.js';
import type { Logger } from '../observe/log.js';
import type { Announce, TopicHandlers } from '../registry/replication.js';
import type { Db } from '../store/db.js';
import type { ChallengeSink } from './acme.js';

/** How long the leader waits for the other replicas to serve an answer before asking the CA. */
export const ACK_WAIT_MS = 5_000;
/** Rows older than this are leftovers (a leader killed mid-order): an order lasts minutes at most. */
export const LEFTOVER_MS = 3_600_000;
const SWEEP_MS = 600_000;

/** This replica's edges: serve exactly these answers (nginx here and the edges it feeds). */
export type ServeAnswers = (answers: ReadonlyMap<string, string>) => Promise<void>;

/** Among replicas: a topic on the shared database, and which replicas are up now. */
export interface ChallengePeers {
  topic(name: string, handlers: TopicHandlers): Announce;
  /** This replica's id, as in replicas(). */
  self: string;
  /** Every replica connected to the database now (the leader election's list). */
  replicas(): Promise<string[]>;
}

/**
 * ACME HTTP-01 answers every replica serves. The CA may reach any replica's machine (DNS round
 * robin, a floating IP that moved), so the answers live in the shared store (`acme_challenges`),
 * not in the ordering leader's memory. Each replica serves exactly the table's rows: on start, on
 * every message of the `acme` topic, and on every reconnect (messages sent while away are lost).
 *
 * Ordering: the leader stores the row, serves it itself, then announces `add <nonce>`; each other
 * replica reloads the table, waits until its nginx and its edges serve it, and answers
 * `ack <nonce> <replica>`. The leader asks the CA to validate only once every replica connected to
 * the database (pg_stat_activity, as the election sees them) has acknowledged, or after
 * ACK_WAIT_MS: a replica that is up but slow or cut off must not hold every order forever, and the
 * CA retries a failed validation on the next order anyway. A replica that comes up meanwhile
 * loads the table at start, before it serves.
 *
 * Alone (SQLite) the same code runs with no peers: the row, then this replica's edges.
 */
export class SharedChallenges implements ChallengeSink, Part {
  private announce: Announce = () => undefined;
  private readonly waiting = new Map<string, { missing: Set<string>; done: () => void }>();
  /** Reloads run one after the other; the last one reads what the table holds then. */
  private queue: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly serve: ServeAnswers,
    private readonly log: Logger,
    private readonly peers?: ChallengePeers,
  ) {}

  /** Loads the table (leftovers swept first); then follows the other replicas. */
  async start(): Promise<void> {
    await this.sweep();
    await this.reload();
    this.timer = setInterval(() => void this.sweep().catch(() => undefined), SWEEP_MS);
    this.timer.unref();
    if (this.peers)
      this.announce = this.peers.topic('acme', {
        message: (m) => this.message(m),
        reconnected: () => void this.reload().catch(() => undefined),
      });
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (const w of this.waiting.values()) w.done();
  }

  async add(token: string, keyAuthorization: string): Promise<void> {
    const at = new Date().toISOString();
    await this.db
      .insertInto('acme_challenges')
      .values({ token, key_authorization: keyAuthorization, created_at: at })
      .onConflict((oc) =>
        oc.column('token').doUpdateSet({ key_authorization: keyAuthorization, created_at: at }),
      )
      .execute();
    // An answer must be live on this replica's edges before the CA is asked to look.
    await this.reload();
    await this.acknowledged();
  }

  async remove(token: string): Promise<void> {
    await this.db.deleteFrom('acme_challenges').where('token', '=', token).execute();
    await this.reload();
    this.announce('changed');
  }

  /** Serves what the table holds now. */
  reload(): Promise<void> {
    const run = this.queue.then(async () => {
      const rows = await this.db
        .selectFrom('acme_challenges')
        .select(['token', 'key_authorization'])
        .execute();
      await this.serve(new Map(rows.map((r) => [r.token, r.key_authorization])));
    });
    this.queue = run.catch((err: unknown) =>
      this.log.warn({ err: String(err) }, 'could not load the ACME HTTP-01 answers'),
    );
    return run;
  }

  /** Announces the change and waits for the replicas that are up to serve it (at most ACK_WAIT_MS). */
  private async acknowledged(): Promise<void> {
    const peers = this.peers;
    if (!peers) return;
    const others = (await peers.replicas().catch(() => [])).filter((r) => r !== peers.self);
    if (others.length === 0) {
      this.announce('changed');
      return;
    }
    const nonce = randomBytes(6).toString('hex');
    const missing = new Set(others);
    let timer: NodeJS.Timeout | undefined;
    const all = new Promise<void>((resolve) => {
      this.waiting.set(nonce, { missing, done: resolve });
      timer = setTimeout(resolve, ACK_WAIT_MS);
    });
    this.announce(`add ${nonce}`);
    const started = Date.now();
    await all;
    clearTimeout(timer);
    this.waiting.delete(nonce);
    if (missing.size > 0)
      this.log.warn(
        { missing: [...missing], waited_ms: Date.now() - started },
        'not every replica said it serves the ACME answer; asking the CA anyway',
      );
    else
      this.log.debug({ replicas: others, ms: Date.now() - started }, 'every replica serves the ACME answer');
  }

  private message(m: string): void {
    const [kind, nonce, from] = m.split(' ');
    if (kind === 'ack' && nonce && from) {
      const w = this.waiting.get(nonce);
      if (!w) return;
      w.missing.delete(from);
      if (w.missing.size === 0) w.done();
      return;
    }
    const peers = this.peers;
    void this.reload().then(
      () => {
        if (kind === 'add' && nonce && peers) this.announce(`ack ${nonce} ${peers.self}`);
      },
      () => undefined,
    );
  }

  /** Removes leftover rows (a leader killed mid-order never removed its answers). */
  private async sweep(): Promise<void> {
    const before = new Date(Date.now() - LEFTOVER_MS).toISOString();
    const r = await this.db.deleteFrom('acme_challenges').where('created_at', '<', before).executeTakeFirst();
    const n = Number(r.numDeletedRows);
    if (n === 0) return;
    this.log.info({ removed: n }, 'leftover ACME HTTP-01 answers removed');
    await this.reload();
    this.announce('changed');
  }
}
