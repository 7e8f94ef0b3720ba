import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, freePort, http, until, type TestServer } from '../helpers/net.js';
import { startPebble, type Pebble } from '../helpers/pebble.js';
import { https, makeCa } from '../helpers/tls.js';
import { testDir } from '../helpers/tmp.js';

interface Listing {
  certificates: { id: string; names: string[]; source: string }[];
  orders: { names: string[]; state: string; error?: string; retryAt?: string }[];
}

/** Certificates from a real ACME CA (Pebble), HTTP-01 answered through real nginx. */
describe('tls: ACME', () => {
  let t: TestGatehouse;
  let app: TestServer;
  let pebble: Pebble;
  let httpsPort: number;
  const listing = async () => (await t.api('GET', '/api/v1/certificates')).json as unknown as Listing;

  beforeAll(async () => {
    const httpPort = await freePort();
    httpsPort = await freePort();
    pebble = await startPebble(httpPort);
    t = await startTestGatehouse({
      http_port: httpPort,
      https_port: httpsPort,
      acme_directory: pebble.directory,
      acme_ca_file: pebble.apiCaFile,
    });
    app = await echoBackend('app');
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
    await pebble?.close();
  });

  it('orders a certificate for a new host by itself and serves it over HTTPS', async () => {
    await t.api('PUT', '/api/v1/services/shop?wait=true', {
      hosts: ['shop.acme.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
    });
    const l = await until(async () => {
      const x = await listing();
      return x.certificates.some((c) => c.names.includes('shop.acme.test')) ? x : undefined;
    }, 30_000);
    expect(l.certificates[0]?.source).toBe('acme');
    expect(l.orders.find((o) => o.names.includes('shop.acme.test'))?.state).toBe('issued');
    await t.gh.edge.refresh();
    const root = await pebble.root();
    const r = await https(httpsPort, 'shop.acme.test', '/', root);
    expect(r.status).toBe(200);
    // ECDSA P-256 by default.
    expect(r.keyType).toBe('ec-prime256v1');
    // HTTP now redirects, and still answers ACME challenges (for renewals).
    expect((await t.get('shop.acme.test')).status).toBe(301);
    expect((await t.get('shop.acme.test', '/.well-known/acme-challenge/unknown')).status).toBe(404);
  });

  it('raises an event for a certificate within 14 days of expiry, and exports expiry metrics', async () => {
    const ca = makeCa(await testDir('gh-ca-'));
    const short = ca.issue(['short.acme.test'], 1);
    expect((await t.api('POST', '/api/v1/certificates', short)).status).toBe(201);
    await t.gh.certManager?.kick();
    const events = (await t.api('GET', '/api/v1/events?kind=cert_expiring')).json as unknown as {
      events: { detail: string }[];
    };
    expect(events.events.some((e) => e.detail.startsWith('short.acme.test expires'))).toBe(true);
    const m = await http(t.apiPort, '127.0.0.1', '/metrics', {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(m.status).toBe(200);
    expect(m.body).toMatch(
      /gatehouse_certificate_expiry_timestamp_seconds\{id="[^"]+",names="short\.acme\.test"\} \d{10}/,
    );
    expect((await http(t.apiPort, '127.0.0.1', '/metrics')).status).toBe(401);
  });

  it('renews on demand (the new certificate takes over), revokes and replaces', async () => {
    const before = (await listing()).certificates.find((c) => c.names.includes('shop.acme.test'));
    const root = await pebble.root();
    const old = await https(httpsPort, 'shop.acme.test', '/', root);
    const renewed = await t.api('POST', `/api/v1/certificates/${before?.id as string}/renew`);
    expect(renewed.status, JSON.stringify(renewed.json)).toBe(201);
    const served = await https(httpsPort, 'shop.acme.test', '/', root);
    expect(served.status).toBe(200);
    expect(served.fingerprint).not.toBe(old.fingerprint);
    expect(served.fingerprint).toBe(renewed.json.fingerprint);
    const revoked = await t.api(
      'DELETE',
      `/api/v1/certificates/${before?.id as string}?revoke=true&wait=true`,
    );
    expect(revoked.status, JSON.stringify(revoked.json)).toBe(200);
    expect((await listing()).certificates.map((c) => c.id)).not.toContain(before?.id);
    expect((await https(httpsPort, 'shop.acme.test', '/', root)).fingerprint).toBe(served.fingerprint);
  });

  it('issues on demand, and reports a CA that fails without blocking anything', async () => {
    await t.api('PUT', '/api/v1/services/api?wait=true', {
      hosts: ['api.acme.test'],
      tls: 'none',
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
    });
    const issued = await t.api('POST', '/api/v1/certificates/issue', { names: ['api.acme.test'] });
    expect(issued.status, JSON.stringify(issued.json)).toBe(201);
    expect(issued.json.names).toEqual(['api.acme.test']);
    const bad = await t.api('POST', '/api/v1/certificates/issue', { names: ['not a host'] });
    expect(bad.status).toBe(400);
    expect(bad.json.error?.message).toMatch(/^names\.0: /);
    await pebble.close();
    const down = await t.api('POST', '/api/v1/certificates/issue', { names: ['later.acme.test'] });
    expect(down.status).toBe(502);
    expect(down.json.error?.code).toBe('acme_unreachable');
    expect(down.json.error?.message).toMatch(/^the CA at https:\/\/\S+ does not answer \(ECONNREFUSED\)$/);
    const failed = (await listing()).orders.find((o) => o.names.includes('later.acme.test'));
    expect(failed?.state).toBe('failed');
    expect(failed?.retryAt).toBeTruthy();
    const status = (await t.api('GET', '/api/v1/status')).json as unknown as {
      certificates: { failed: { names: string[] }[] };
    };
    expect(status.certificates.failed.map((f) => f.names.join(','))).toContain('later.acme.test');
    // What was issued keeps serving.
    expect((await t.get('shop.acme.test')).status).toBe(301);
  });
});
