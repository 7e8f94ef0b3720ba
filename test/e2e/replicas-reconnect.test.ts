import { createServer, connect, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoBackend, http, until, type TestServer } from '../helpers/net.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { guardedService, startReplica, type ReplicaProcess } from '../helpers/replicas.js';

const SECRET = 'reconnect-replicas-secret-0123456789';
const PORTAL = 'auth.reconnect.test';
const GUARDED = 'wiki.reconnect.test';

/**
 * A TCP relay to PostgreSQL that can be cut: every connection through it closed, and new ones
 * refused, until it is restored. Only the replica behind it loses the database; the others and
 * the database itself carry on (a replica's own network trouble, not a database restart).
 */
class CuttableRelay {
  private readonly open = new Set<Socket>();
  private cut = false;
  private server: Server | undefined;
  port = 0;

  constructor(private readonly target: number) {}

  async start(): Promise<void> {
    this.server = createServer((client) => {
      if (this.cut) return void client.destroy();
      const upstream = connect(this.target, '127.0.0.1');
      for (const [a, b] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        this.open.add(a);
        a.on('error', () => b.destroy());
        a.on('close', () => {
          this.open.delete(a);
          b.destroy();
        });
        a.pipe(b);
      }
    });
    await new Promise<void>((done) => this.server!.listen(0, '127.0.0.1', done));
    this.port = (this.server.address() as { port: number }).port;
  }

  sever(): void {
    this.cut = true;
    for (const s of this.open) s.destroy();
  }

  restore(): void {
    this.cut = false;
  }

  async close(): Promise<void> {
    this.sever();
    await new Promise<void>((done) => this.server?.close(() => done()) ?? done());
  }
}

/**
 * Issue 15: what another replica changes while this one cannot hear it. A replica learns of the
 * others' changes through LISTEN/NOTIFY, and a notification sent while its listening connection is
 * down is lost. So on every reconnect it reads again what it only follows by notification: the
 * session keys, the revocations, the ACME answers. Beta reaches PostgreSQL through a relay the test
 * cuts; meanwhile alpha rotates the session key, revokes a session, and an ACME answer is stored.
 * Once the relay is back, beta's nginx takes a session signed with the new key, refuses the revoked
 * one, and serves the answer: none of which it was told while away.
 */
describe('replicas: what changed while a replica was cut off reaches it when it reconnects', () => {
  let pgc: TestPostgres;
  let relay: CuttableRelay;
  let app: TestServer;
  let alpha: ReplicaProcess;
  let beta: ReplicaProcess;
  let url: string;
  let through: (r: ReplicaProcess, cookie: string) => Promise<{ status: number }>;
  let signIn: (r: ReplicaProcess) => Promise<string>;

  beforeAll(async () => {
    pgc = await startPostgres();
    url = await pgc.createDatabase();
    relay = new CuttableRelay(pgc.port);
    await relay.start();
    app = await echoBackend('wiki');
    const env = { GATEHOUSE_SECRET: SECRET, GATEHOUSE_BASE_DOMAIN: 'reconnect.test' };
    alpha = await startReplica('alpha', url, { env });
    beta = await startReplica('beta', url.replace(`:${pgc.port}/`, `:${relay.port}/`), { env });
    ({ through, signIn } = await guardedService(alpha, GUARDED, app.port, PORTAL));
  }, 120_000);
  afterAll(async () => {
    await beta?.stop();
    await alpha?.stop();
    await relay?.close();
    await app?.close();
    await pgc?.stop().catch(() => undefined);
  });

  it('session key rotated, a session revoked and an ACME answer stored while beta was cut off', async () => {
    const revoked = await signIn(alpha);
    for (const cookie of [revoked])
      await until(async () => ((await through(beta, cookie)).status === 200 ? true : undefined), 10_000, 20);

    relay.sever();
    // Beta noticed: its listening connection is gone (it logs that once).
    await until(
      async () =>
        beta.lines.some((l) => l.msg?.startsWith('lost the database connection that follows'))
          ? true
          : undefined,
      10_000,
      50,
    );

    // Alpha, meanwhile: a new session key, a session revoked, an ACME answer stored.
    expect((await alpha.api('POST', '/api/v1/rotate/session-key', {})).status).toBe(200);
    const fresh = await signIn(alpha);
    const list = (await alpha.api('GET', '/api/v1/sessions')).json.sessions as {
      id: string;
      username: string;
    }[];
    const older = list.filter((s) => s.username === 'alice').at(-1);
    expect((await alpha.api('DELETE', `/api/v1/sessions/${older!.id}`)).status).toBe(200);
    expect((await through(alpha, revoked)).status).not.toBe(200);
    const token = 'reconnect-token-0123456789abcdef';
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => undefined);
    await client.connect();
    try {
      await client.query(
        'insert into acme_challenges (token, key_authorization, created_at) values ($1, $2, $3)',
        [token, `${token}.thumbprint`, new Date().toISOString()],
      );
    } finally {
      await client.end();
    }
    // Cut off, beta knows none of it yet.
    expect((await through(beta, fresh)).status).not.toBe(200);
    expect((await through(beta, revoked)).status).toBe(200);

    relay.restore();
    const t0 = performance.now();
    await until(async () => ((await through(beta, fresh)).status === 200 ? true : undefined), 15_000, 50);
    await until(async () => ((await through(beta, revoked)).status !== 200 ? true : undefined), 15_000, 50);
    const answer = await until(async () => {
      const r = await http(beta.httpPort, GUARDED, `/.well-known/acme-challenge/${token}`);
      return r.status === 200 ? r : undefined;
    }, 15_000);
    console.log(
      `replicas: beta caught up on a key, a revocation and an ACME answer ${(performance.now() - t0).toFixed(0)} ms after its database came back`,
    );
    expect(answer.body).toBe(`${token}.thumbprint`);
    expect([302, 401]).toContain((await through(beta, revoked)).status);
    expect(beta.lines.some((l) => l.msg === 'following the other replicas again')).toBe(true);
  }, 90_000);
});
