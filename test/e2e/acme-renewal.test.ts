import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, freePort, until, type TestServer } from '../helpers/net.js';
import { startPebble, type Pebble } from '../helpers/pebble.js';
import { https } from '../helpers/tls.js';

interface Listing {
  certificates: { id: string; names: string[]; notAfter: string; fingerprint: string }[];
}

const KID = 'kid-gatehouse';
const HMAC = 'zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W';

/**
 * A CA that requires external account binding (as ZeroSSL does) and issues certificates that live
 * 15 seconds, so that renewal at two-thirds of the lifetime happens within the test.
 */
describe('tls: EAB, RSA keys and automatic renewal', () => {
  let t: TestGatehouse;
  let app: TestServer;
  let pebble: Pebble;
  let httpsPort: number;
  const listing = async () => (await t.api('GET', '/api/v1/certificates')).json as unknown as Listing;
  const shopCerts = async () =>
    (await listing()).certificates.filter((c) => c.names.includes('shop.renew.test'));

  beforeAll(async () => {
    const httpPort = await freePort();
    httpsPort = await freePort();
    pebble = await startPebble(httpPort, { eab: { kid: KID, key: HMAC }, validitySeconds: 15 });
    t = await startTestGatehouse({
      http_port: httpPort,
      https_port: httpsPort,
      acme_directory: pebble.directory,
      acme_ca_file: pebble.apiCaFile,
      acme_eab_kid: KID,
      acme_eab_hmac_key: HMAC,
      acme_key_type: 'rsa',
    });
    app = await echoBackend('app');
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
    await pebble?.close();
  });

  it('gets an account through external account binding, and renews at two-thirds of the lifetime', async () => {
    await t.api('PUT', '/api/v1/services/shop?wait=true', {
      hosts: ['shop.renew.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
    });
    const [first] = await until(async () => {
      const c = await shopCerts();
      return c.length > 0 ? c : undefined;
    }, 30_000);
    const lifetime = Date.parse(first?.notAfter as string) - Date.now();
    expect(lifetime).toBeLessThan(20_000);
    // Past two-thirds: the next pass orders a successor, which takes over.
    await new Promise((r) => setTimeout(r, Math.max(0, (lifetime * 2) / 3 - 4000) + 1000));
    const renewed = await until(async () => {
      await t.gh.certManager?.kick();
      const c = await shopCerts();
      return c.some((x) => x.id !== first?.id) ? c : undefined;
    }, 15_000);
    const next = renewed.find((x) => x.id !== first?.id);
    await t.gh.edge.refresh();
    const served = await https(httpsPort, 'shop.renew.test', '/', await pebble.root());
    expect(served.status).toBe(200);
    expect(served.fingerprint).toBe(next?.fingerprint);
    expect(served.keyType).toBe('rsa-2048');
  });
});
