import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEdgeAgent, type EdgeProcess } from '../helpers/edge.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, freePort, until, type TestServer } from '../helpers/net.js';
import { startPebble, type Pebble } from '../helpers/pebble.js';
import { https } from '../helpers/tls.js';
import { testDir } from '../helpers/tmp.js';

/**
 * The CA reaches only the public edge (as when DNS points at a VPS and the control plane sits at
 * home): the HTTP-01 answer must be live there before the CA looks, and the certificate it yields
 * serves HTTPS on that edge.
 */
describe('edge: ACME through a public edge', () => {
  let t: TestGatehouse;
  let app: TestServer;
  let pebble: Pebble;
  let edge: EdgeProcess;
  let edgeHttps: number;

  beforeAll(async () => {
    const edgeHttp = await freePort();
    edgeHttps = await freePort();
    // Pebble validates on the edge's HTTP port, never on the control plane's (the portal's own
    // order, placed at start before the edge is connected, fails and waits for its retry).
    pebble = await startPebble(edgeHttp);
    t = await startTestGatehouse({
      https_port: await freePort(),
      acme_directory: pebble.directory,
      acme_ca_file: pebble.apiCaFile,
    });
    app = await echoBackend('app');
    const node = await t.api('POST', '/api/v1/nodes', { name: 'vps', role: 'public' });
    edge = startEdgeAgent({
      control: `http://127.0.0.1:${t.apiPort}`,
      token: String(node.json.token),
      dir: await testDir('gh-edge-acme-'),
      httpPort: edgeHttp,
      httpsPort: edgeHttps,
    });
    await until(async () => {
      const n = (await t.api('GET', '/api/v1/nodes')).json as unknown as { nodes: { in_sync: boolean }[] };
      return n.nodes[0]?.in_sync ? true : undefined;
    }, 15_000);
  });
  afterAll(async () => {
    await edge?.stop();
    await t?.close();
    await app?.close();
    await pebble?.close();
  });

  it('gets the certificate validated at the edge and serves it there', async () => {
    await t.api('PUT', '/api/v1/services/shop?wait=true', {
      hosts: ['shop.acme.test'],
      expose: 'public',
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
    });
    // `until` retries what throws: a failed order is returned, and thrown once out of it.
    const seen = await until(async () => {
      const l = (await t.api('GET', '/api/v1/certificates')).json as unknown as {
        certificates: { names: string[]; fingerprint: string }[];
        orders: { names: string[]; state: string; error?: string }[];
      };
      const failed = l.orders.find((o) => o.state === 'failed' && o.names.includes('shop.acme.test'));
      if (failed) return { failed };
      return l.certificates.some((c) => c.names.includes('shop.acme.test')) ? { listing: l } : undefined;
    }, 30_000);
    if (seen.failed) throw new Error(`order failed: ${seen.failed.error ?? ''}`);
    const listing = seen.listing;
    const cert = listing.certificates.find((c) => c.names.includes('shop.acme.test'));
    const root = await pebble.root();
    const r = await until(async () => {
      const x = await https(edgeHttps, 'shop.acme.test', '/', root).catch(() => undefined);
      return x?.status === 200 ? x : undefined;
    }, 10_000);
    expect(r.fingerprint).toBe(cert?.fingerprint);
  });
});
