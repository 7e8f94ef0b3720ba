import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoBackend, freePort, http, until, type TestServer } from '../helpers/net.js';
import { startPebble, type Pebble } from '../helpers/pebble.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startReplica, type ReplicaProcess } from '../helpers/replicas.js';
import { https } from '../helpers/tls.js';

const HOST = 'shop.spread.test';

interface Listing {
  certificates: { id: string; names: string[] }[];
  orders: { names: string[]; state: string; step?: string; error?: string }[];
}

/**
 * Issue 15: ACME HTTP-01 answers reach every replica. Two `gatehouse up` replicas on one
 * PostgreSQL; the leader (alpha) orders from a real Pebble, whose HTTP-01 validation goes to the
 * OTHER replica's nginx only (Pebble's httpPort = beta's HTTP port), as when DNS round robin or a
 * floating IP sends the CA to a machine that is not the leader's. The certificate is issued, both
 * serve it, and the answer is gone from the store and from beta's nginx afterwards.
 */
describe('replicas: ACME HTTP-01 answered by a replica that is not the leader', () => {
  let pgc: TestPostgres;
  let pebble: Pebble;
  let app: TestServer;
  let url: string;
  /** beta's HTTP port (given to it by flag: the helper's own httpPort is not the one in use). */
  let betaHttp: number;
  /** Ends the test's own watch on the store (also when the test failed half-way). */
  let stopWatching: () => Promise<void> = async () => undefined;
  const replicas: { r: ReplicaProcess; httpsPort: number }[] = [];

  beforeAll(async () => {
    pgc = await startPostgres();
    url = await pgc.createDatabase();
    betaHttp = await freePort();
    // Pebble validates at beta's HTTP port, never at the leader's.
    pebble = await startPebble(betaHttp);
    app = await echoBackend('shop');
    const env = { GATEHOUSE_ACME_DIRECTORY: pebble.directory, GATEHOUSE_ACME_CA_FILE: pebble.apiCaFile };
    const alphaHttps = await freePort();
    const alpha = await startReplica('alpha', url, { args: ['--https-port', String(alphaHttps)], env });
    replicas.push({ r: alpha, httpsPort: alphaHttps });
    // alpha is alone: it leads before beta starts.
    await until(async () => ((await alpha.status()).replica?.leading ? true : undefined), 10_000, 50);
    const betaHttps = await freePort();
    const beta = await startReplica('beta', url, {
      args: ['--http-port', String(betaHttp), '--https-port', String(betaHttps)],
      env,
    });
    replicas.push({ r: beta, httpsPort: betaHttps });
  }, 120_000);
  afterAll(async () => {
    await stopWatching();
    for (const { r } of replicas) await r.stop();
    await app?.close();
    await pebble?.close();
    await pgc?.stop().catch(() => undefined);
  });

  it('the certificate is issued with the CA looking at the non-leader only; the answer is gone after', async () => {
    const [alpha, beta] = replicas as [(typeof replicas)[number], (typeof replicas)[number]];
    const sts = await Promise.all([alpha.r.status(), beta.r.status()]);
    expect(sts.map((s) => s.replica?.leading)).toEqual([true, false]);
    expect(betaHttp).not.toBe(alpha.r.httpPort);

    const put = await alpha.r.api('PUT', '/api/v1/services/shop?wait=true', {
      hosts: [HOST],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
    });
    expect(put.status, JSON.stringify(put.json)).toBe(201);
    // The answers in the store while the order runs (their tokens, to look for them afterwards).
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => undefined);
    await client.connect();
    const tokens = new Set<string>();
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const rows = await client.query<{ token: string }>('select token from acme_challenges').then(
          (r) => r.rows,
          () => [],
        );
        for (const row of rows) tokens.add(row.token);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    stopWatching = async () => {
      watching = false;
      await watch;
      await client.end().catch(() => undefined);
    };
    const listing = async (r: ReplicaProcess) =>
      (await r.api('GET', '/api/v1/certificates')).json as unknown as Listing;
    const t0 = Date.now();
    const certs = await until(async () => {
      const l = await listing(alpha.r);
      const failed = l.orders.find((o) => o.names.includes(HOST) && o.state === 'failed');
      if (failed) throw new Error(`order failed: ${failed.error ?? ''}`);
      const mine = l.certificates.filter((c) => c.names.includes(HOST));
      return mine.length > 0 ? mine : undefined;
    }, 60_000).catch((err: unknown) => {
      console.log(JSON.stringify(alpha.r.lines.slice(-30)), JSON.stringify(beta.r.lines.slice(-30)));
      throw err;
    });
    console.log(`replicas: certificate issued through the non-leader's nginx in ${Date.now() - t0} ms`);
    expect(certs.map((c) => c.names)).toEqual([[HOST]]);
    // The leader did not have to give up on beta: it acknowledged the answer.
    expect(alpha.r.lines.some((l) => l.msg?.startsWith('not every replica said'))).toBe(false);

    // Both replicas serve the certificate.
    const root = await pebble.root();
    for (const { r: rep, httpsPort } of replicas) {
      const served = await until(async () => {
        const r = await https(httpsPort, HOST, '/', root).catch(() => undefined);
        return r?.status === 200 ? r : undefined;
      }, 10_000).catch((err: unknown) => {
        console.log(rep.name, httpsPort, JSON.stringify(rep.lines.slice(-20)));
        throw err;
      });
      expect(served.status).toBe(200);
    }

    // The answers were removed: from the store, and from beta's nginx.
    watching = false;
    await watch;
    expect(tokens.size).toBeGreaterThan(0);
    expect((await client.query('select token from acme_challenges')).rows).toEqual([]);
    for (const token of tokens) {
      const gone = await until(async () => {
        const r = await http(betaHttp, HOST, `/.well-known/acme-challenge/${token}`);
        return r.status === 404 ? r : undefined;
      }, 5000);
      expect(gone.status).toBe(404);
    }
  }, 120_000);
});
