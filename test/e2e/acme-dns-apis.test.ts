import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBind, type Bind } from '../helpers/bind.js';
import { fakeDnsApi } from '../helpers/dns-fakes.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { freePort, until } from '../helpers/net.js';
import { startPebble, type Pebble } from '../helpers/pebble.js';

interface Listing {
  certificates: { names: string[] }[];
  orders: { names: string[]; state: string; error?: string }[];
}

/**
 * DNS-01 through the Cloudflare and Hetzner providers, against FAKES of their HTTP APIs that publish
 * into a real BIND, which the real CA (Pebble) resolves against.
 */
describe('tls: DNS-01 through vendor APIs (fakes)', () => {
  let t: TestGatehouse;
  let bind: Bind;
  let pebble: Pebble;
  let cloudflare: Awaited<ReturnType<typeof fakeDnsApi>>;
  let hetzner: Awaited<ReturnType<typeof fakeDnsApi>>;
  const listing = async () => (await t.api('GET', '/api/v1/certificates')).json as unknown as Listing;
  const certFor = (name: string) =>
    until(
      async () => ((await listing()).certificates.some((c) => c.names.includes(name)) ? true : undefined),
      30_000,
    );
  const service = (name: string, host: string) =>
    t.api('PUT', `/api/v1/services/${name}?wait=true`, {
      hosts: [host],
      routes: [{ upstreams: ['127.0.0.1:9'] }],
    });

  beforeAll(async () => {
    bind = await startBind('api.test');
    cloudflare = await fakeDnsApi('cloudflare', {
      zone: 'api.test',
      token: 'cf-token-123',
      bind,
      bindZone: 'api.test',
    });
    hetzner = await fakeDnsApi('hetzner', {
      zone: 'hz.api.test',
      token: 'hz-token-123',
      bind,
      bindZone: 'api.test',
    });
    const httpPort = await freePort();
    pebble = await startPebble(httpPort, { dnsServer: bind.server });
    t = await startTestGatehouse({
      http_port: httpPort,
      https_port: await freePort(),
      acme_directory: pebble.directory,
      acme_ca_file: pebble.apiCaFile,
    });
  });
  afterAll(async () => {
    await t?.close();
    await pebble?.close();
    await cloudflare?.close();
    await hetzner?.close();
    await bind?.close();
  });

  it('Cloudflare: creates the TXT record through the API, waits for it, deletes it', async () => {
    const p = await t.api('POST', '/api/v1/dns-providers', {
      name: 'cf',
      type: 'cloudflare',
      zone: 'api.test',
      api_token: 'cf-token-123',
      api_url: `http://127.0.0.1:${cloudflare.port}`,
      propagation_servers: [bind.server],
    });
    expect(p.status, JSON.stringify(p.json)).toBe(201);
    expect(JSON.stringify(p.json)).not.toContain('cf-token-123');
    await service('cfapps', '*.cf.api.test');
    await certFor('*.cf.api.test');
    expect(cloudflare.calls).toContain('POST /zones/z1/dns_records');
    expect(cloudflare.calls.some((c) => c.startsWith('DELETE /zones/z1/dns_records/'))).toBe(true);
    expect(await bind.txt('_acme-challenge.cf.api.test')).toEqual([]);
  });

  it('Hetzner: the same with relative record names; a wrong token fails the order clearly', async () => {
    await t.api('POST', '/api/v1/dns-providers', {
      name: 'hz',
      type: 'hetzner',
      zone: 'hz.api.test',
      api_token: 'hz-token-123',
      api_url: `http://127.0.0.1:${hetzner.port}`,
      propagation_servers: [bind.server],
    });
    await service('hzapps', '*.x.hz.api.test');
    await certFor('*.x.hz.api.test');
    expect(hetzner.calls).toContain('POST /records');
    expect(hetzner.calls.some((c) => c.startsWith('DELETE /records/'))).toBe(true);
    await t.api('POST', '/api/v1/dns-providers', {
      name: 'badtoken',
      type: 'hetzner',
      zone: 'bad.api.test',
      api_token: 'wrong-token-1',
      api_url: `http://127.0.0.1:${hetzner.port}`,
      propagation_servers: [bind.server],
    });
    await service('badapps', '*.bad.api.test');
    const failed = await until(async () => {
      const o = (await listing()).orders.find((x) => x.names.includes('*.bad.api.test'));
      return o?.state === 'failed' ? o : undefined;
    }, 20_000);
    expect(failed.error).toMatch(/HTTP 401/);
  });
});
