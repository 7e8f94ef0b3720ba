import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatehouseError } from '../../src/model/errors.js';
import { serviceSchema, type Service } from '../../src/model/service.js';
import { parsePolicy, vpnClientCreateSchema } from '../../src/model/vpn-client.js';
import type { Db } from '../../src/store/db.js';
import { openDatabase } from '../../src/store/open.js';
import { VpnClientStore } from '../../src/vpn/clients.js';
import { generateKeyPair, publicKeyOf } from '../../src/vpn/keys.js';
import { LOCAL_EDGE, SiteStore } from '../../src/vpn/store.js';
import { edgeWgSpec } from '../../src/vpn/wg-config.js';
import { testDir } from '../helpers/tmp.js';

const svc = (name: string, upstream: string): Service =>
  serviceSchema.parse({ name, hosts: [`${name}.t.test`], routes: [{ upstreams: [upstream] }] });

/** Parses a `[Section]` / `Key = Value` config the way wg-quick reads it. */
function ini(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let cur = '';
  for (const line of text.split('\n')) {
    const s = /^\[(\w+)\]$/.exec(line);
    if (s?.[1]) out[(cur = s[1])] = {};
    const kv = /^(\w+) = (.*)$/.exec(line);
    if (kv?.[1] && kv[2] !== undefined) (out[cur] ??= {})[kv[1]] = kv[2];
  }
  return out;
}

describe('VPN clients: input', () => {
  it('refuses a bad policy, expiry, name or DNS, naming the field', () => {
    const field = (body: unknown) => vpnClientCreateSchema.safeParse(body).error?.issues[0]?.path.join('.');
    expect(field({ name: 'a', policy: 'everything' })).toBe('policy');
    expect(field({ name: 'a', policy: 'ports:80,70000' })).toBe('policy');
    expect(field({ name: 'a', policy: 'services:Wiki!' })).toBe('policy');
    expect(field({ name: 'a', expires: '30 days' })).toBe('expires');
    expect(field({ name: 'Laptop!' })).toBe('name');
    expect(field({ name: 'a', dns: 'dns.example' })).toBe('dns');
    expect(field({ name: 'a', extra: 1 })).toBe('');
    expect(vpnClientCreateSchema.parse({ name: 'a' })).toEqual({ name: 'a' });
    expect(field({ name: 'a', kill_switch: 'yes' })).toBe('kill_switch');
    expect(parsePolicy('ports:22,8000-8100')).toEqual({
      kind: 'ports',
      ports: [
        { from: 22, to: 22 },
        { from: 8000, to: 8100 },
      ],
    });
    expect(parsePolicy('services:b,a,b')).toEqual({ kind: 'services', services: ['a', 'b'] });
  });
});

describe('VpnClientStore', () => {
  let db: Db;
  let sites: SiteStore;
  let clients: VpnClientStore;
  const services = [
    svc('wiki', 'http://10.1.0.5:8080'),
    svc('git', '10.1.0.6:3000'),
    svc('lo', '127.0.0.1:9'),
  ];
  let changes = 0;
  const serverKey = generateKeyPair().publicKey;

  beforeAll(async () => {
    db = await openDatabase(join(await testDir('vpn-clients-'), 'gatehouse.db'));
    sites = new SiteStore(db, '100.96.0.0/29');
    sites.onChange(() => changes++);
    clients = new VpnClientStore(db, sites, () => services);
  });
  afterAll(async () => {
    clients?.stop();
    await db?.destroy();
  });

  it('refuses a client while no WireGuard server has registered (409 naming vpn_port)', async () => {
    const err = await clients.add(vpnClientCreateSchema.parse({ name: 'early' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatehouseError);
    expect(err).toMatchObject({ status: 409, issues: [{ field: 'vpn_port' }] });
  });

  it('a client: address from vpn_range, a config with its private key (only its public key stored)', async () => {
    await sites.registerEdge(
      LOCAL_EDGE,
      { public_key: serverKey, endpoint: 'vpn.t.test:51820', port: 51820 },
      '',
    );
    await clients.groups.add({ name: 'staff', policy: 'full' });
    const before = changes;
    const { client, config } = await clients.add(
      vpnClientCreateSchema.parse({
        name: 'laptop',
        group: 'staff',
        policy: 'services:wiki',
        dns: '10.1.0.53',
      }),
    );
    expect(changes).toBe(before + 1);
    expect(client).toMatchObject({ name: 'laptop', group: 'staff', address: '100.96.0.2', expires_at: null });
    const c = ini(config);
    expect(c.Interface).toMatchObject({ Address: '100.96.0.2/32', DNS: '10.1.0.53' });
    expect(publicKeyOf(c.Interface?.PrivateKey ?? '')).toBe(client.public_key);
    expect(c.Peer).toEqual({
      PublicKey: serverKey,
      Endpoint: 'vpn.t.test:51820',
      AllowedIPs: '100.96.0.1/32, 10.1.0.5/32',
      PersistentKeepalive: '25',
    });
    const row = await db
      .selectFrom('vpn_clients')
      .selectAll()
      .where('name', '=', 'laptop')
      .executeTakeFirst();
    expect(JSON.stringify(row)).not.toContain(c.Interface?.PrivateKey);
    // The servers get it as a peer, at its address only.
    const section = await sites.tunnel();
    expect(edgeWgSpec('k', 51820, section).peers).toEqual([
      { publicKey: client.public_key, allowedIps: ['100.96.0.2/32'] },
    ]);
  });

  it('full: the range and every IPv4 upstream but loopback; a duplicate or unknown service is refused by field', async () => {
    const { config } = await clients.add(vpnClientCreateSchema.parse({ name: 'phone' }));
    expect(ini(config).Peer?.AllowedIPs).toBe('100.96.0.1/32, 100.96.0.0/29, 10.1.0.5/32, 10.1.0.6/32');
    await expect(clients.add(vpnClientCreateSchema.parse({ name: 'phone' }))).rejects.toMatchObject({
      status: 409,
      issues: [{ field: 'name' }],
    });
    await expect(
      clients.add(vpnClientCreateSchema.parse({ name: 'tab', policy: 'services:wiki,nope' })),
    ).rejects.toMatchObject({ status: 400, issues: [{ field: 'policy', message: 'no service named nope' }] });
  });

  it('revoke: the peer leaves the servers at once; an unknown name is a 404', async () => {
    const before = changes;
    await clients.revoke('phone');
    expect(changes).toBe(before + 1);
    expect((await sites.tunnel()).peers.map((p) => p.site)).toEqual(['client:laptop']);
    expect((await clients.list()).map((c) => c.name)).toEqual(['laptop']);
    await expect(clients.revoke('phone')).rejects.toMatchObject({ status: 404 });
  });

  it('expired: dropped from the servers when it expires, listed as expired', async () => {
    await clients.add(vpnClientCreateSchema.parse({ name: 'guest', expires: '90m' }));
    expect((await sites.tunnel()).peers.map((p) => p.site)).toContain('client:guest');
    await db
      .updateTable('vpn_clients')
      .set({ expires_at: new Date(Date.now() + 300).toISOString() })
      .where('name', '=', 'guest')
      .execute();
    await clients.add(vpnClientCreateSchema.parse({ name: 'other' })); // re-arms the expiry timer
    const before = changes;
    await new Promise((r) => setTimeout(r, 600));
    expect(changes).toBeGreaterThan(before);
    expect((await sites.tunnel()).peers.map((p) => p.site)).not.toContain('client:guest');
    expect((await clients.list()).find((c) => c.name === 'guest')).toMatchObject({ expired: true });
  });

  it("a service's new upstream reaches the servers' rules (only while there are clients)", async () => {
    const before = (await sites.tunnel()).hash;
    services[0] = svc('wiki', 'http://10.1.0.9:8080');
    clients.servicesChanged();
    await new Promise((r) => setTimeout(r, 100));
    const after = await sites.tunnel();
    expect(after.hash).not.toBe(before);
    const laptop = after.peers.find((p) => p.site === 'client:laptop');
    expect(laptop?.targets?.upstreams).toEqual([{ ip: '10.1.0.9', port: 8080 }]);
  });

  it('runs out of addresses with a 409 naming vpn_range', async () => {
    // /29: .1 the server; .2 laptop, .3 phone's (free again), .4 guest, .5 other.
    await clients.add(vpnClientCreateSchema.parse({ name: 'c3' }));
    await clients.add(vpnClientCreateSchema.parse({ name: 'c6' }));
    await expect(clients.add(vpnClientCreateSchema.parse({ name: 'c7' }))).rejects.toMatchObject({
      status: 409,
      issues: [{ field: 'vpn_range' }],
    });
  });
});
