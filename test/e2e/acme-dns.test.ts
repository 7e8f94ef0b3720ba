import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBind, type Bind } from '../helpers/bind.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, freePort, until, type TestServer } from '../helpers/net.js';
import { startPebble, type Pebble } from '../helpers/pebble.js';
import { https } from '../helpers/tls.js';

interface Listing {
  certificates: { id: string; names: string[] }[];
  orders: { names: string[]; state: string; error?: string }[];
}

/**
 * The base domain's wildcard certificate through DNS-01: RFC 2136 updates into a real BIND, which
 * Pebble (the CA) resolves against. Hosts under the base domain need no order of their own.
 */
describe('tls: DNS-01 wildcard', () => {
  let t: TestGatehouse;
  let app: TestServer;
  let bind: Bind;
  let pebble: Pebble;
  let httpsPort: number;
  const listing = async () => (await t.api('GET', '/api/v1/certificates')).json as unknown as Listing;
  const provider = () => ({
    name: 'bind',
    type: 'rfc2136',
    zone: 'wild.test',
    server: bind.server,
    tsig_name: bind.tsigName,
    tsig_secret: bind.tsigSecret,
  });

  beforeAll(async () => {
    bind = await startBind('wild.test');
    const httpPort = await freePort();
    httpsPort = await freePort();
    pebble = await startPebble(httpPort, { dnsServer: bind.server });
    t = await startTestGatehouse({
      http_port: httpPort,
      https_port: httpsPort,
      base_domain: 'wild.test',
      acme_directory: pebble.directory,
      acme_ca_file: pebble.apiCaFile,
    });
    app = await echoBackend('app');
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
    await pebble?.close();
    await bind?.close();
  });

  it('refuses a bad DNS provider naming the field; keeps its secret to itself', async () => {
    const bad = await t.api('POST', '/api/v1/dns-providers', { ...provider(), server: 'ns.example.com:53' });
    expect(bad.status).toBe(400);
    expect(bad.json.error?.message).toMatch(/^server: /);
    const noKey = await t.api('POST', '/api/v1/dns-providers', { ...provider(), tsig_secret: 'not base64!' });
    expect(noKey.status).toBe(400);
    expect(noKey.json.error?.message).toMatch(/^tsig_secret: /);
    const ok = await t.api('POST', '/api/v1/dns-providers', provider());
    expect(ok.status, JSON.stringify(ok.json)).toBe(201);
    expect(JSON.stringify(ok.json)).not.toContain(bind.tsigSecret);
  });

  it('obtains the wildcard, serves every host under it, and cleans the TXT record up', async () => {
    await t.api('PUT', '/api/v1/services/a?wait=true', {
      hosts: ['a.wild.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
    });
    const l = await until(async () => {
      const x = await listing();
      return x.certificates.some((c) => c.names.includes('*.wild.test')) ? x : undefined;
    }, 30_000);
    // One wildcard for the base domain; no host under it has its own (the portal may, from before
    // the DNS provider existed).
    const wild = l.certificates.filter((c) => c.names.includes('*.wild.test'));
    expect(wild.map((c) => c.names)).toEqual([['*.wild.test', 'wild.test']]);
    const others = l.certificates.filter((c) => !c.names.includes('*.wild.test'));
    expect(others.flatMap((c) => c.names).filter((n) => n !== 'auth.wild.test')).toEqual([]);
    await t.gh.edge.refresh();
    const root = await pebble.root();
    expect((await https(httpsPort, 'a.wild.test', '/', root)).status).toBe(200);
    expect(await bind.txt('_acme-challenge.wild.test')).toEqual([]);
    // A new host under the wildcard: HTTPS at once, no new order.
    const t0 = performance.now();
    await t.api('PUT', '/api/v1/services/b?wait=true', {
      hosts: ['b.wild.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
    });
    expect((await https(httpsPort, 'b.wild.test', '/', root)).status).toBe(200);
    expect(performance.now() - t0).toBeLessThan(2000);
    await new Promise((r) => setTimeout(r, 700));
    expect((await listing()).certificates).toHaveLength(l.certificates.length);
  });

  it('a DNS provider that refuses the update fails its order, and nothing else', async () => {
    // A zone the server does not serve is refused when the provider is added, naming the zone.
    const notServed = await t.api('POST', '/api/v1/dns-providers', {
      ...provider(),
      name: 'notserved',
      zone: 'apps.wild.test',
    });
    expect(notServed.status).toBe(400);
    expect(notServed.body).toMatch(/zone: .*does not serve the zone apps\.wild\.test/);
    // The right zone with the wrong key: added (reading the SOA needs no key), refused at the update.
    expect((await t.api('DELETE', '/api/v1/dns-providers/bind')).status).toBe(200);
    const wrong = await t.api('POST', '/api/v1/dns-providers', {
      ...provider(),
      name: 'wrongkey',
      tsig_secret: Buffer.alloc(32, 7).toString('base64'),
    });
    expect(wrong.json).toMatchObject({ zone_check: { state: 'held' } });
    await t.api('PUT', '/api/v1/services/apps?wait=true', {
      hosts: ['*.apps.wild.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
    });
    const failed = await until(async () => {
      const o = (await listing()).orders.find((x) => x.names.includes('*.apps.wild.test'));
      return o?.state === 'failed' ? o : undefined;
    }, 20_000);
    expect(failed.error).toMatch(/DNS update refused/);
    expect((await https(httpsPort, 'a.wild.test', '/', await pebble.root())).status).toBe(200);
  });
});
