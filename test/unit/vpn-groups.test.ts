import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceSchema, type Service } from '../../src/model/service.js';
import {
  vpnClientCreateSchema,
  vpnGroupCreateSchema,
  vpnGroupUpdateSchema,
} from '../../src/model/vpn-client.js';
import type { Db } from '../../src/store/db.js';
import { openDatabase } from '../../src/store/open.js';
import { KILL_SWITCH_TABLE } from '../../src/vpn/clients-killswitch.js';
import { renderClientTable } from '../../src/vpn/clients-nft.js';
import { VpnClientStore } from '../../src/vpn/clients.js';
import { generateKeyPair } from '../../src/vpn/keys.js';
import { LOCAL_EDGE, SiteStore } from '../../src/vpn/store.js';
import { testDir } from '../helpers/tmp.js';

const svc = (name: string, upstream: string): Service =>
  serviceSchema.parse({ name, hosts: [`${name}.t.test`], routes: [{ upstreams: [upstream] }] });

describe('VPN device groups', () => {
  let db: Db;
  let sites: SiteStore;
  let clients: VpnClientStore;
  let changes = 0;
  const services = [svc('wiki', 'http://10.1.0.5:8080'), svc('git', '10.1.0.6:3000')];
  const add = (body: unknown) => clients.add(vpnClientCreateSchema.parse(body));
  /** The server's nftables rules (its forward chain) for one client address. */
  const rulesFor = async (address: string) =>
    (renderClientTable('wg0', await sites.tunnel()).split('chain forward')[1] ?? '')
      .split('\n')
      .filter((l) => l.includes(`saddr ${address} `));

  beforeAll(async () => {
    db = await openDatabase(join(await testDir('vpn-groups-'), 'gatehouse.db'));
    sites = new SiteStore(db, '100.96.0.0/24');
    sites.onChange(() => changes++);
    clients = new VpnClientStore(db, sites, () => services);
    await sites.registerEdge(
      LOCAL_EDGE,
      { public_key: generateKeyPair().publicKey, endpoint: 'vpn.t.test:51820', port: 51820 },
      '',
    );
  });
  afterAll(async () => {
    clients?.stop();
    await db?.destroy();
  });

  it('refuses bad input naming the field', async () => {
    const field = (body: unknown) => vpnGroupCreateSchema.safeParse(body).error?.issues[0]?.path.join('.');
    expect(field({ name: 'Staff!' })).toBe('name');
    expect(field({ name: 'staff', policy: 'some' })).toBe('policy');
    expect(vpnGroupUpdateSchema.safeParse({}).error?.issues[0]?.path).toEqual(['policy']);
    await expect(clients.groups.add({ name: 'x', policy: 'services:nope' })).rejects.toMatchObject({
      status: 400,
      issues: [{ field: 'policy', message: 'no service named nope' }],
    });
    await expect(add({ name: 'a', group: 'nosuch' })).rejects.toMatchObject({
      status: 400,
      issues: [{ field: 'group' }],
    });
    expect(await clients.list()).toEqual([]);
  });

  it("a client added with --group and no --policy takes the group's policy; its own overrides", async () => {
    expect(await clients.groups.add({ name: 'staff', policy: 'services:wiki' })).toMatchObject({
      name: 'staff',
      policy: 'services:wiki',
      clients: 0,
    });
    await expect(clients.groups.add({ name: 'staff', policy: 'full' })).rejects.toMatchObject({
      status: 409,
      issues: [{ field: 'name' }],
    });
    const a = await add({ name: 'ann', group: 'staff' });
    expect(a.client).toMatchObject({ group: 'staff', policy: 'services:wiki', policy_from: 'group' });
    expect(a.config).toContain('AllowedIPs = 100.96.0.1/32, 10.1.0.5/32\n');
    const b = await add({ name: 'bob', group: 'staff', policy: 'services:git' });
    expect(b.client).toMatchObject({ policy: 'services:git', policy_from: 'client' });
    const c = await add({ name: 'cat' });
    expect(c.client).toMatchObject({ group: null, policy: 'full', policy_from: 'default' });
    expect(await rulesFor(a.client.address)).toEqual([
      `    iifname "wg0" ip saddr ${a.client.address} ip daddr 10.1.0.5 tcp dport 8080 accept`,
    ]);
    expect((await clients.groups.list()).map((g) => [g.name, g.clients])).toEqual([['staff', 2]]);
  });

  it("changing the group's policy changes the server rules of every member without its own, at once", async () => {
    const [ann, bob] = (await clients.list()).map((c) => c.address);
    const before = changes;
    const g = await clients.groups.set('staff', 'ports:22');
    expect(g).toMatchObject({ name: 'staff', policy: 'ports:22', clients: 2 });
    expect(changes).toBe(before + 1);
    expect((await clients.list()).find((c) => c.name === 'ann')).toMatchObject({
      policy: 'ports:22',
      policy_from: 'group',
    });
    expect(await rulesFor(ann ?? '')).toEqual([
      `    iifname "wg0" ip saddr ${ann} ip daddr { 100.96.0.0/24, 10.1.0.5/32, 10.1.0.6/32 } tcp dport { 22 } accept`,
      `    iifname "wg0" ip saddr ${ann} ip daddr { 100.96.0.0/24, 10.1.0.5/32, 10.1.0.6/32 } udp dport { 22 } accept`,
    ]);
    // bob keeps his own policy.
    expect(await rulesFor(bob ?? '')).toEqual([
      `    iifname "wg0" ip saddr ${bob} ip daddr 10.1.0.6 tcp dport 3000 accept`,
    ]);
    await expect(clients.groups.set('nosuch', 'full')).rejects.toMatchObject({ status: 404 });
    await expect(clients.groups.set('staff', 'services:nope')).rejects.toMatchObject({
      status: 400,
      issues: [{ field: 'policy' }],
    });
  });

  it('a group in use cannot be removed (409 naming group); once empty it can', async () => {
    await expect(clients.groups.remove('staff')).rejects.toMatchObject({
      status: 409,
      issues: [{ field: 'group', message: expect.stringContaining('ann, bob') as unknown }],
    });
    await clients.revoke('ann');
    await clients.revoke('bob');
    await clients.groups.remove('staff');
    expect(await clients.groups.list()).toEqual([]);
    await expect(clients.groups.remove('staff')).rejects.toMatchObject({ status: 404 });
  });

  it('--kill-switch: the config carries wg-quick nftables hooks dropping what leaves outside the tunnel', async () => {
    const plain = await add({ name: 'dan' });
    expect(plain.config).not.toContain('PostUp');
    const { config } = await add({ name: 'eve', kill_switch: true });
    const hooks = config.split('\n').filter((l) => /^(PostUp|PreDown) = /.test(l));
    expect(hooks).toEqual([
      'PostUp = [ "$(wg show %i fwmark)" != off ] || wg set %i fwmark 51820',
      `PostUp = nft add table inet ${KILL_SWITCH_TABLE}`,
      `PostUp = nft add chain inet ${KILL_SWITCH_TABLE} output '{ type filter hook output priority filter; policy drop; }'`,
      `PostUp = nft add rule inet ${KILL_SWITCH_TABLE} output oifname "lo" accept`,
      `PostUp = nft add rule inet ${KILL_SWITCH_TABLE} output oifname "%i" accept`,
      `PostUp = nft add rule inet ${KILL_SWITCH_TABLE} output meta mark "$(wg show %i fwmark)" accept`,
      `PreDown = nft delete table inet ${KILL_SWITCH_TABLE}`,
    ]);
    // In the [Interface] section, before [Peer].
    expect(config.indexOf('PreDown')).toBeLessThan(config.indexOf('[Peer]'));
  });
});
