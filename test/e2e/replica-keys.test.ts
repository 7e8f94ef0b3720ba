import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoBackend, until, type TestServer } from '../helpers/net.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { BIN, cleanEnv, guardedService, startReplica, type ReplicaProcess } from '../helpers/replicas.js';

const SECRET = 'keys-replicas-secret-0123456789';
const NEXT = 'keys-replicas-next-secret-0123456789';
const PORTAL = 'auth.keys.test';
const GUARDED = 'wiki.keys.test';
const ROTATED_LOG = /^the data key was rotated: restart this replica/;

/** `gatehouse status` on a replica's local socket, as an operator runs it. */
function cliStatus(dataDir: string): Promise<{ code: number | null; out: string }> {
  return new Promise((done) => {
    const p = spawn(process.execPath, [BIN, '--data-dir', dataDir, 'status'], { env: cleanEnv() });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', (code) => done({ code, out }));
  });
}

/**
 * Issue 15: rotated keys reach every replica. Three `gatehouse up` replicas on one real PostgreSQL
 * with one GATEHOUSE_SECRET: alpha and beta also hold GATEHOUSE_SECRET_NEXT, gamma does not.
 * - `rotate session-key` on alpha: a session signed on alpha after the rotation passes through
 *   beta's nginx at once, and one signed before still does (the previous key, from the store).
 * - `rotate data-key` on alpha (to GATEHOUSE_SECRET_NEXT): beta switches to it and keeps sealing;
 *   gamma cannot open the store any more and refuses writes that need the data key with 503
 *   `data_key_rotated` (status and the CLI say so, the log once) until restarted with the new secret.
 */
describe('replicas: rotated keys reach every replica', () => {
  let pgc: TestPostgres;
  let app: TestServer;
  let url: string;
  const all: ReplicaProcess[] = [];
  let alpha: ReplicaProcess;
  let beta: ReplicaProcess;
  let gamma: ReplicaProcess;
  const start = async (name: string, env: Record<string, string>) => {
    const r = await startReplica(name, url, {
      env: { GATEHOUSE_SECRET: SECRET, GATEHOUSE_BASE_DOMAIN: 'keys.test', ...env },
    });
    all.push(r);
    return r;
  };
  let through: (r: ReplicaProcess, cookie: string) => Promise<{ status: number }>;
  let signIn: (r: ReplicaProcess) => Promise<string>;
  const provider = (name: string) => ({
    name,
    issuer: 'https://id.example.com',
    client_id: 'gatehouse',
    client_secret: `the ${name} client secret`,
  });

  beforeAll(async () => {
    pgc = await startPostgres();
    url = await pgc.createDatabase();
    app = await echoBackend('wiki');
    alpha = await start('alpha', { GATEHOUSE_SECRET_NEXT: NEXT });
    beta = await start('beta', { GATEHOUSE_SECRET_NEXT: NEXT });
    gamma = await start('gamma', {});
    ({ through, signIn } = await guardedService(alpha, GUARDED, app.port, PORTAL));
  }, 120_000);
  afterAll(async () => {
    for (const r of all) await r.stop();
    await app?.close();
    await pgc?.stop().catch(() => undefined);
  });

  it('session-key rotated on alpha: new and old sessions pass through beta’s nginx', async () => {
    const old = await signIn(alpha);
    for (const r of [beta, gamma])
      await until(async () => ((await through(r, old)).status === 200 ? true : undefined), 10_000, 20);

    const rotated = await alpha.api('POST', '/api/v1/rotate/session-key', {});
    expect(rotated.status, JSON.stringify(rotated.json)).toBe(200);
    const fresh = await signIn(alpha);
    expect((await through(alpha, fresh)).status).toBe(200);
    const t0 = performance.now();
    await until(
      async () => ((await through(beta, fresh).catch(() => undefined))?.status === 200 ? true : undefined),
      10_000,
      10,
    );
    console.log(
      `replicas: a session signed with the rotated key passes through B after ${(performance.now() - t0).toFixed(0)} ms`,
    );
    expect(performance.now() - t0).toBeLessThan(5000);
    // The session signed before still passes there (the previous key, in its grace period).
    expect((await through(beta, old)).status).toBe(200);
    await until(
      async () => ((await through(gamma, fresh).catch(() => undefined))?.status === 200 ? true : undefined),
      10_000,
      10,
    );
    expect((await through(gamma, old)).status).toBe(200);
    // A session signed on beta now is signed with the new key: alpha takes it.
    const onBeta = await signIn(beta);
    expect((await through(alpha, onBeta)).status).toBe(200);
  });

  it('data-key rotated on alpha: beta switches to GATEHOUSE_SECRET_NEXT, gamma refuses with 503 until restarted', async () => {
    const r = await alpha.api('POST', '/api/v1/rotate/data-key', {});
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json.key_source).toBe('secret');
    // alpha seals with the new key.
    expect((await alpha.api('POST', '/api/v1/providers', provider('one'))).status).toBe(201);

    // beta: switched at the announcement; a write that seals works, with the key in force.
    await until(
      () =>
        beta.lines.some((l) => l.msg?.startsWith('the data key was rotated by another replica'))
          ? true
          : undefined,
      10_000,
      20,
    );
    const two = await beta.api('POST', '/api/v1/providers', provider('two'));
    expect(two.status, JSON.stringify(two.json)).toBe(201);
    expect((await beta.status()).data_key).toBeUndefined();

    // gamma: its secret no longer opens the store; it seals nothing and says why.
    await until(async () => ((await gamma.status()).data_key ? true : undefined), 10_000, 20);
    expect((await gamma.status()).data_key).toEqual({
      state: 'rotated',
      message: 'the data key was rotated: restart this replica with the new GATEHOUSE_SECRET',
    });
    const refused = await gamma.api('POST', '/api/v1/providers', provider('three'));
    expect(refused.status).toBe(503);
    expect(refused.json.error).toMatchObject({
      code: 'data_key_rotated',
      message: 'the data key was rotated: restart this replica with the new GATEHOUSE_SECRET',
    });
    expect((await gamma.api('POST', '/api/v1/providers', provider('three'))).status).toBe(503);
    const cli = await cliStatus(gamma.dataDir);
    expect(cli.code, cli.out).toBe(0);
    expect(cli.out).toMatch(
      /DATA KEY:\s+the data key was rotated: restart this replica with the new GATEHOUSE_SECRET/,
    );
    // Logged once, however many writes were refused.
    expect(gamma.lines.filter((l) => ROTATED_LOG.test(l.msg ?? ''))).toHaveLength(1);
    // Nothing was written with gamma's stale key.
    const names = ((await alpha.api('GET', '/api/v1/providers')).json.providers as { name: string }[]).map(
      (p) => p.name,
    );
    expect(names.sort()).toEqual(['one', 'two']);
    // Sessions keep passing everywhere (signing needs no data key).
    const s = await signIn(alpha);
    for (const rep of [beta, gamma])
      await until(async () => ((await through(rep, s)).status === 200 ? true : undefined), 10_000, 20);

    // gamma restarted with the new secret: in step again.
    await gamma.stop();
    const gamma2 = await start('gamma2', { GATEHOUSE_SECRET: NEXT });
    expect((await gamma2.status()).data_key).toBeUndefined();
    expect((await gamma2.api('POST', '/api/v1/providers', provider('three'))).status).toBe(201);
    // beta restarted with both secrets: the store says NEXT is in force; it says so and uses it.
    await beta.stop();
    const beta2 = await start('beta2', { GATEHOUSE_SECRET_NEXT: NEXT });
    expect((await beta2.api('POST', '/api/v1/providers', provider('four'))).status).toBe(201);
    expect(beta2.lines.some((l) => /GATEHOUSE_SECRET_NEXT: it is in use/.test(l.msg ?? ''))).toBe(true);
  }, 120_000);
});
