import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBind, type Bind } from '../helpers/bind.js';
import { echoBackend, freePort, until, type TestServer } from '../helpers/net.js';
import { startPebble, type Pebble } from '../helpers/pebble.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startReplica, type ReplicaProcess } from '../helpers/replicas.js';
import { https } from '../helpers/tls.js';

const ZONE = 'lead.test';
const HOST = `app.${ZONE}`;
const ISSUED = 'certificate issued';

interface Listing {
  certificates: { id: string; names: string[] }[];
  orders: { names: string[]; state: string; step?: string }[];
}

/**
 * A UDP relay in front of BIND for the replicas' DNS updates and lookups. While held, it drops what
 * comes in and counts it: a replica's order is then stuck at "setting the TXT record", mid-order,
 * for as long as the test wants.
 */
interface Relay {
  server: string;
  held: number;
  hold(on: boolean): void;
  close(): Promise<void>;
}

async function startRelay(target: string): Promise<Relay> {
  const [host, port] = [
    target.slice(0, target.lastIndexOf(':')),
    Number(target.slice(target.lastIndexOf(':') + 1)),
  ];
  const front = createSocket('udp4');
  const backs = new Map<string, Socket>();
  let holding = false;
  const relay: Relay = {
    server: '',
    held: 0,
    hold: (on) => (holding = on),
    close: async () => {
      for (const b of backs.values()) b.close();
      await new Promise<void>((r) => front.close(() => r()));
    },
  };
  front.on('message', (msg: Buffer, from: RemoteInfo) => {
    if (holding) {
      relay.held += 1;
      return;
    }
    const key = `${from.address}:${from.port}`;
    let back = backs.get(key);
    if (!back) {
      back = createSocket('udp4');
      back.on('message', (answer: Buffer) => front.send(answer, from.port, from.address));
      backs.set(key, back);
    }
    back.send(msg, port, host);
  });
  await new Promise<void>((r) => front.bind(0, '127.0.0.1', () => r()));
  relay.server = `127.0.0.1:${front.address().port}`;
  return relay;
}

/**
 * Issue 15: "kill -9 the leader during a certificate order: another takes over within 5 s and
 * nothing runs twice". Two `gatehouse up` replicas on one PostgreSQL order from Pebble with DNS-01
 * through a real BIND (the DNS provider is in the shared store, so either replica can prove a name).
 * The leader's order is held at its DNS update, the leader is SIGKILLed there, and the other
 * replica leads, orders and serves the certificate: one certificate row for the names, issued once.
 */
describe('replicas: the leader killed during a certificate order', () => {
  let pgc: TestPostgres;
  let bind: Bind;
  let relay: Relay;
  let pebble: Pebble;
  let app: TestServer;
  const replicas: { r: ReplicaProcess; httpsPort: number }[] = [];

  beforeAll(async () => {
    pgc = await startPostgres();
    bind = await startBind(ZONE);
    relay = await startRelay(bind.server);
    pebble = await startPebble(await freePort(), { dnsServer: bind.server });
    app = await echoBackend('app');
    const url = await pgc.createDatabase();
    for (const name of ['alpha', 'beta']) {
      const httpsPort = await freePort();
      const r = await startReplica(name, url, {
        args: ['--https-port', String(httpsPort)],
        env: { GATEHOUSE_ACME_DIRECTORY: pebble.directory, GATEHOUSE_ACME_CA_FILE: pebble.apiCaFile },
      });
      replicas.push({ r, httpsPort });
    }
  }, 120_000);
  afterAll(async () => {
    for (const { r } of replicas) await r.stop();
    await app?.close();
    await pebble?.close();
    await relay?.close();
    await bind?.close();
    await pgc?.stop().catch(() => undefined);
  });

  it('another replica leads within 5 s, completes the certificate, and it is stored once', async () => {
    const sts = await Promise.all(replicas.map(({ r }) => r.status()));
    const li = sts.findIndex((s) => s.replica?.leading);
    expect(li).toBeGreaterThanOrEqual(0);
    const leader = replicas[li] as (typeof replicas)[number];
    const other = replicas[1 - li] as (typeof replicas)[number];

    const provider = await leader.r.api('POST', '/api/v1/dns-providers', {
      name: 'bind',
      type: 'rfc2136',
      zone: ZONE,
      server: relay.server,
      tsig_name: bind.tsigName,
      tsig_secret: bind.tsigSecret,
    });
    expect(provider.status, JSON.stringify(provider.json)).toBe(201);

    // The order starts on the leader and stops at its DNS update, which the relay holds.
    relay.hold(true);
    const put = await leader.r.api('PUT', `/api/v1/services/app?wait=true`, {
      hosts: [HOST],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
    });
    expect(put.status, JSON.stringify(put.json)).toBe(201);
    await until(() => (relay.held > 0 ? true : undefined), 20_000, 20);
    const listing = async (r: ReplicaProcess) =>
      (await r.api('GET', '/api/v1/certificates')).json as unknown as Listing;
    const mid = (await listing(leader.r)).orders.find((o) => o.names.includes(HOST));
    expect(mid).toMatchObject({ state: 'issuing', step: expect.stringMatching(/TXT/) });
    // The follower has not ordered anything.
    expect((await listing(other.r)).orders).toEqual([]);

    const killedAt = Date.now();
    await leader.r.kill();
    relay.hold(false);
    await until(async () => ((await other.r.status()).replica?.leading ? true : undefined), 10_000, 20);
    const leadMs = Date.now() - killedAt;
    console.log(`leader killed mid-order -> ${other.r.name} leads after ${leadMs} ms`);
    expect(leadMs).toBeLessThan(5000);

    const certs = await until(async () => {
      const l = await listing(other.r);
      const mine = l.certificates.filter((c) => c.names.includes(HOST));
      return mine.length > 0 ? mine : undefined;
    }, 60_000).catch(async (err: unknown) => {
      console.log(JSON.stringify(await listing(other.r)), JSON.stringify(other.r.lines.slice(-40)));
      throw err;
    });
    console.log(`the new leader stored the certificate ${Date.now() - killedAt} ms after the kill`);
    expect(certs.map((c) => c.names)).toEqual([[HOST]]);
    const root = await pebble.root();
    const served = await until(async () => {
      const r = await https(other.httpsPort, HOST, '/', root).catch(() => undefined);
      return r?.status === 200 ? r : undefined;
    }, 10_000);
    expect(served.status).toBe(200);

    // Nothing ran twice: a while later still one certificate for the names, issued once, by the new
    // leader only (the killed one never stored its own).
    await new Promise((r) => setTimeout(r, 3000));
    const after = (await listing(other.r)).certificates.filter((c) => c.names.includes(HOST));
    expect(after.map((c) => c.id)).toEqual(certs.map((c) => c.id));
    expect(other.r.lines.filter((l) => l.msg === ISSUED)).toHaveLength(1);
    expect(leader.r.lines.filter((l) => l.msg === ISSUED)).toHaveLength(0);
    const order = (await listing(other.r)).orders.find((o) => o.names.includes(HOST));
    expect(order?.state).toBe('issued');
  }, 150_000);
});
