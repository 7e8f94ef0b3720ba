import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatehouseError } from '../../src/model/errors.js';
import type { Db } from '../../src/store/db.js';
import { openDatabase } from '../../src/store/open.js';
import { generateKeyPair } from '../../src/vpn/keys.js';
import { LOCAL_EDGE, SiteStore } from '../../src/vpn/store.js';
import { testDir } from '../helpers/tmp.js';

/** The control plane's sites on a real (SQLite) store: addresses, clashes, keys, what edges and sites get. */
describe('SiteStore', () => {
  let db: Db;
  let sites: SiteStore;
  const changes: boolean[] = [];

  beforeAll(async () => {
    db = await openDatabase(join(await testDir('site-store-'), 'gatehouse.db'));
    sites = new SiteStore(db, '100.96.0.0/29');
    sites.onChange((local) => changes.push(local));
    const now = new Date().toISOString();
    await db
      .insertInto('nodes')
      .values({
        name: 'vps',
        role: 'public',
        token_hash: 'x',
        created_at: now,
        last_seen: null,
        address: '',
        applied_hash: '',
        last_error: '',
        agent_version: '',
        down_servers: '[]',
        applied_version: 0,
      })
      .execute();
  });
  afterAll(async () => db?.destroy());

  it('allocates addresses from the range for edges and sites; refuses a duplicate name or a clash by field', async () => {
    const edgeKey = generateKeyPair().publicKey;
    expect(
      await sites.registerEdge(
        'vps',
        { public_key: edgeKey, endpoint: '', port: 51820 },
        '::ffff:198.51.100.7',
      ),
    ).toEqual({
      address: '100.96.0.1',
      range: '100.96.0.0/29',
    });
    const { site, token } = await sites.add({ name: 'home', subnets: ['192.168.1.0/24'] });
    expect(site).toMatchObject({ name: 'home', address: '100.96.0.2', public_key: '', connected: false });
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const dup = await sites.add({ name: 'home', subnets: [] }).catch((e: unknown) => e);
    expect(dup).toBeInstanceOf(GatehouseError);
    expect((dup as GatehouseError).issues[0]?.field).toBe('name');
    const clash = await sites
      .add({ name: 'lab', subnets: ['10.0.0.0/8', '192.168.0.0/16'] })
      .catch((e: unknown) => e);
    expect((clash as GatehouseError).issues[0]).toEqual({
      field: 'subnets.1',
      message: '192.168.0.0/16 overlaps 192.168.1.0/24 of site home',
    });
    // The edge keeps its address when it registers again (a restart, a new key).
    const again = await sites.registerEdge(
      'vps',
      { public_key: edgeKey, endpoint: 'vps.example.com:51820', port: 51820 },
      '',
    );
    expect(again.address).toBe('100.96.0.1');
  });

  it('a connector sends its key: edges get it as a peer, the site gets the edges; a full range is refused', async () => {
    expect((await sites.tunnel()).peers).toEqual([]);
    const row = await sites.byBearer('Bearer nope');
    expect(row).toBeUndefined();
    const { token } = await sites.add({ name: 'office', subnets: ['10.20.0.0/16'] });
    const office = await sites.byBearer(`Bearer ${token}`);
    if (!office) throw new Error('token not found');
    const key = generateKeyPair().publicKey;
    const cfg = await sites.sync(office, { public_key: key, last_handshake: Math.floor(Date.now() / 1000) });
    expect(cfg).toMatchObject({
      site: 'office',
      address: '100.96.0.3',
      subnets: ['10.20.0.0/16'],
      edges: [{ node: 'vps', address: '100.96.0.1', endpoint: 'vps.example.com:51820' }],
    });
    expect(changes).toEqual([true]);
    const t = await sites.tunnel();
    expect(t.peers).toEqual([
      { site: 'office', publicKey: key, address: '100.96.0.3', subnets: ['10.20.0.0/16'] },
    ]);
    expect((await sites.list()).find((s) => s.name === 'office')?.connected).toBe(true);
    // The control plane's own edge (vpn_port) is offered too.
    await sites.registerEdge(
      LOCAL_EDGE,
      { public_key: generateKeyPair().publicKey, endpoint: 'cp.example.com:51821', port: 51821 },
      '',
    );
    const fresh = await sites.byBearer(`Bearer ${token}`);
    if (!fresh) throw new Error('token not found');
    expect(
      (await sites.sync(fresh, { public_key: key, last_handshake: 0 })).edges.map((e) => e.node),
    ).toEqual(['local', 'vps']);
    await sites.add({ name: 'a', subnets: [] });
    await sites.add({ name: 'b', subnets: [] });
    const full = await sites.add({ name: 'c', subnets: [] }).catch((e: unknown) => e);
    expect((full as GatehouseError).issues[0]?.field).toBe('vpn_range');
    await sites.remove('office');
    expect((await sites.tunnel()).peers).toEqual([]);
    expect(changes).toEqual([true, true]);
    sites.reload();
    expect(changes).toEqual([true, true, false]);
  });
});
