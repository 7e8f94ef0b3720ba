import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TunnelSection } from '../../src/compile/edge-config.js';
import { GatehouseError } from '../../src/model/errors.js';
import { siteCreateSchema, siteUpdateSchema } from '../../src/model/site.js';
import type { Db } from '../../src/store/db.js';
import { openDatabase } from '../../src/store/open.js';
import { generateKeyPair } from '../../src/vpn/keys.js';
import { renderSiteForwardTable } from '../../src/vpn/site-forward.js';
import { HubChooser, probeEdge } from '../../src/vpn/site-hub-monitor.js';
import { SiteStore } from '../../src/vpn/store.js';
import { renderWgConfig, siteTunnelConfig, siteWgSpec } from '../../src/vpn/wg-config.js';
import { testDir } from '../helpers/tmp.js';

describe('site-to-site: the hub choice (HubChooser)', () => {
  const round = (h: HubChooser, alive: Record<string, boolean>) => {
    for (const [n, a] of Object.entries(alive)) h.record(n, a);
    return h.choose();
  };

  it('starts on the primary, leaves it after 3 missed probes for the fallback, and returns after 5 answers', () => {
    const h = new HubChooser(3, 5);
    h.setOrder(['vps1', 'vps2']);
    expect(h.active).toBe('vps1');
    expect(round(h, { vps1: true, vps2: true })).toBe('vps1');
    expect(round(h, { vps1: false, vps2: true })).toBe('vps1');
    expect(round(h, { vps1: false, vps2: true })).toBe('vps1');
    expect(round(h, { vps1: false, vps2: true })).toBe('vps2');
    // Back only after 5 answers in a row (a flapping primary does not take the traffic back).
    for (let i = 0; i < 4; i++) expect(round(h, { vps1: true, vps2: true })).toBe('vps2');
    expect(round(h, { vps1: false, vps2: true })).toBe('vps2');
    for (let i = 0; i < 4; i++) expect(round(h, { vps1: true, vps2: true })).toBe('vps2');
    expect(round(h, { vps1: true, vps2: true })).toBe('vps1');
  });

  it('stays on a silent hub when no other edge answers; a hub gone from the config is left at once', () => {
    const h = new HubChooser(3, 5);
    h.setOrder(['a', 'b']);
    for (let i = 0; i < 5; i++) expect(round(h, { a: false, b: false })).toBe('a');
    expect(round(h, { a: false, b: true })).toBe('b');
    h.setOrder(['a']);
    expect(h.active).toBe('a');
    h.setOrder([]);
    expect(h.choose()).toBeUndefined();
  });

  it('probes: a refused connect is an answer (silence, in the e2e test, is not)', async () => {
    expect(await probeEdge('127.0.0.1', 1000)).toBe(true);
  });
});

describe('site-to-site: what the connector and the hub apply', () => {
  const edges = [
    { node: 'vps2', publicKey: generateKeyPair().publicKey, address: '100.96.0.2', endpoint: 'b:51820' },
    { node: 'vps1', publicKey: generateKeyPair().publicKey, address: '100.96.0.1', endpoint: 'a:51820' },
  ];
  const cfg = siteTunnelConfig({
    site: 'a',
    address: '100.96.0.3',
    range: '100.96.0.0/24',
    subnets: ['192.168.77.0/24'],
    remote: ['192.168.78.0/24'],
    edges,
  });

  it('orders the edges by node name (the primary first); only the hub carries the other sites’ subnets', () => {
    expect(cfg.edges.map((e) => e.node)).toEqual(['vps1', 'vps2']);
    const spec = siteWgSpec(generateKeyPair().privateKey, cfg, 'vps2');
    const by = new Map(spec.peers.map((p) => [p.endpoint, p.allowedIps]));
    expect(by.get('a:51820')).toEqual(['100.96.0.1/32']);
    expect(by.get('b:51820')).toEqual(['100.96.0.2/32', '192.168.78.0/24']);
    expect(renderWgConfig(spec)).toContain('AllowedIPs = 100.96.0.2/32, 192.168.78.0/24');
    // Without a hub (site-to-site off), each edge has its address only.
    expect(siteWgSpec(generateKeyPair().privateKey, cfg).peers.every((p) => p.allowedIps.length === 1)).toBe(
      true,
    );
  });

  it('the hub forwards between site-to-site subnets only, and not at all without them', () => {
    const peer = (site: string, subnets: string[], s2s: boolean) => ({
      site,
      publicKey: generateKeyPair().publicKey,
      address: '100.96.0.9',
      subnets,
      ...(s2s ? { siteToSite: true } : {}),
    });
    const section: TunnelSection = {
      hash: 'x',
      range: '100.96.0.0/24',
      peers: [
        peer('a', ['192.168.77.0/24'], true),
        peer('b', ['192.168.78.0/24'], true),
        peer('c', ['10.9.0.0/16'], false),
      ],
    };
    const text = renderSiteForwardTable('gh-edge0', section);
    expect(text).toContain(
      'iifname "gh-edge0" oifname "gh-edge0" ip saddr { 192.168.77.0/24, 192.168.78.0/24 } ip daddr { 192.168.77.0/24, 192.168.78.0/24 } accept',
    );
    expect(text).toContain(
      'ip daddr { 10.9.0.0/16, 192.168.77.0/24, 192.168.78.0/24 } ip saddr { 10.9.0.0/16, 192.168.77.0/24, 192.168.78.0/24 } drop',
    );
    expect(renderSiteForwardTable('gh-edge0', { ...section, peers: [section.peers[2]!] })).toBe('');
  });
});

describe('site-to-site: the store', () => {
  let db: Db;
  let sites: SiteStore;
  beforeAll(async () => {
    db = await openDatabase(join(await testDir('site-s2s-'), 'gatehouse.db'));
    sites = new SiteStore(db, '100.96.0.0/24');
  });
  afterAll(async () => db?.destroy());

  it('opt-in: only sites with it on get each other’s subnets and are marked for the hubs; set on/off', async () => {
    const a = await sites.add({ name: 'a', subnets: ['192.168.77.0/24'], site_to_site: true });
    const b = await sites.add({ name: 'b', subnets: ['192.168.78.0/24'], site_to_site: true });
    const c = await sites.add({ name: 'c', subnets: ['192.168.79.0/24'] });
    expect([a.site.site_to_site, b.site.site_to_site, c.site.site_to_site]).toEqual([true, true, false]);
    const row = async (n: string) =>
      db.selectFrom('sites').selectAll().where('name', '=', n).executeTakeFirstOrThrow();
    const key = () => ({ public_key: generateKeyPair().publicKey, last_handshake: 0 });
    expect((await sites.sync(await row('a'), key())).remote).toEqual(['192.168.78.0/24']);
    expect((await sites.sync(await row('b'), key())).remote).toEqual(['192.168.77.0/24']);
    expect((await sites.sync(await row('c'), key())).remote).toEqual([]);
    const peers = (await sites.tunnel()).peers;
    expect(peers.filter((p) => p.siteToSite).map((p) => p.site)).toEqual(['a', 'b']);

    expect((await sites.update('c', { site_to_site: true })).site_to_site).toBe(true);
    expect((await sites.sync(await row('a'), key())).remote).toEqual(['192.168.78.0/24', '192.168.79.0/24']);
    expect((await sites.tunnel()).peers.filter((p) => p.siteToSite).map((p) => p.site)).toEqual([
      'a',
      'b',
      'c',
    ]);
    await sites.update('b', { site_to_site: false });
    expect((await sites.sync(await row('b'), key())).remote).toEqual([]);
    expect((await sites.list()).map((s) => [s.name, s.site_to_site])).toEqual([
      ['a', true],
      ['b', false],
      ['c', true],
    ]);
    const unknown = await sites.update('nope', { site_to_site: true }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(GatehouseError);
    expect((unknown as GatehouseError).status).toBe(404);
    expect((unknown as GatehouseError).issues[0]?.field).toBe('name');
  });

  it('input: site_to_site must be a boolean (the field is named)', () => {
    expect(siteCreateSchema.parse({ name: 'x' }).site_to_site).toBe(false);
    const bad = siteCreateSchema.safeParse({ name: 'x', site_to_site: 'yes' });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['site_to_site']);
    expect(siteUpdateSchema.safeParse({}).error?.issues[0]?.path).toEqual(['site_to_site']);
    expect(siteUpdateSchema.safeParse({ site_to_site: true, subnets: [] }).success).toBe(false);
  });
});
