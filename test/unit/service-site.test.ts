import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import { Registry } from '../../src/registry/registry.js';
import type { Db } from '../../src/store/db.js';
import { openDatabase } from '../../src/store/open.js';
import { SiteStore } from '../../src/vpn/store.js';
import { testDir } from '../helpers/tmp.js';

/** `site: NAME` on a service: the site must exist, the upstreams must be inside its subnets. */
describe('a service at a site', () => {
  let db: Db;
  let registry: Registry;
  const meta = { actor: 'test', source: 'api' as const };
  const put = (name: string, body: object) => registry.put({ name, ...body }, meta);

  beforeAll(async () => {
    db = await openDatabase(join(await testDir('service-site-'), 'gatehouse.db'));
    registry = await Registry.open(db, new Map());
    await new SiteStore(db, '100.96.0.0/24').add({ name: 'home', subnets: ['192.168.1.0/24'] });
  });
  afterAll(async () => db?.destroy());

  it('is accepted with upstreams inside the site subnets, and stored with it', async () => {
    await put('nas', {
      hosts: ['nas.t.test'],
      routes: [{ upstreams: ['http://192.168.1.10:5000'] }],
      tcp: [{ port: 2222, upstreams: ['192.168.1.10:22'] }],
      site: 'home',
      access: { public: true },
    });
    expect(registry.get('nas')?.service.site).toBe('home');
  });

  it('an unknown site is a 400 naming site; an upstream outside its subnets names that upstream', async () => {
    await expect(
      put('a', { hosts: ['a.t.test'], routes: [{ upstreams: ['192.168.1.5:80'] }], site: 'office' }),
    ).rejects.toMatchObject({
      status: 400,
      issues: [{ field: 'site', message: 'no site named office (sites: home)' }],
    });
    await expect(
      put('b', {
        hosts: ['b.t.test'],
        routes: [{ upstreams: ['192.168.1.5:80', 'http://10.0.0.5:80'] }],
        site: 'home',
      }),
    ).rejects.toMatchObject({
      status: 400,
      issues: [
        {
          field: 'routes.0.upstreams.1',
          message: "10.0.0.5 is not inside site home's subnets (192.168.1.0/24)",
        },
      ],
    });
    await expect(
      put('c', { tcp: [{ port: 2223, upstreams: ['10.9.9.9:22'] }], site: 'home' }),
    ).rejects.toMatchObject({ status: 400, issues: [{ field: 'tcp.0.upstreams.0' }] });
    expect(registry.get('a') ?? registry.get('b') ?? registry.get('c')).toBeUndefined();
  });

  it('changes nothing in the compiled config (a declaration)', async () => {
    const body = {
      hosts: ['d.t.test'],
      routes: [{ upstreams: ['192.168.1.7:80'] }],
      access: { public: true },
    };
    await put('d', body);
    const without = compile({
      services: registry.list().map((r) => r.service),
      listeners: { http: 80, https: 443 },
    });
    await put('d', { ...body, site: 'home' });
    const withSite = compile({
      services: registry.list().map((r) => r.service),
      listeners: { http: 80, https: 443 },
    });
    expect(withSite.hash).toBe(without.hash);
  });
});
