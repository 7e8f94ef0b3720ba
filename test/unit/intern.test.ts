import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import { ConfigInterner, same } from '../../src/edge/intern.js';
import { serviceSchema, type Service } from '../../src/model/service.js';

const listeners = { http: 80, https: 443 };
const svc = (name: string, port: number, hosts = [`${name}.test`]): Service =>
  serviceSchema.parse({ name, hosts, routes: [{ path: '/', upstreams: [`10.0.0.1:${port}`] }] });
/** As an edge gets it: through JSON, every object new. */
const wire = (services: Service[]) => JSON.parse(JSON.stringify(compile({ services, listeners })));

describe('edge config interning', () => {
  it('gives back the previous objects for what did not change, new ones for what did', () => {
    const interner = new ConfigInterner();
    const a = interner.intern(wire([svc('a', 1), svc('b', 2), svc('c', 3)]));
    const next = wire([svc('a', 1), svc('b', 9), svc('c', 3), svc('d', 4)]);
    const b = interner.intern(next);
    expect(b).toEqual(next);
    const site = (cfg: typeof a, host: string) => cfg.sites.find((s) => s.hosts.includes(host));
    expect(site(b, 'a.test')).toBe(site(a, 'a.test'));
    expect(site(b, 'c.test')).toBe(site(a, 'c.test'));
    // b's site names its pool by id: only the pool changed.
    expect(site(b, 'b.test')).toBe(site(a, 'b.test'));
    expect(site(b, 'd.test')).toBeDefined();
    expect(b.pools.find((p) => p.id === 'a-r0')).toBe(a.pools.find((p) => p.id === 'a-r0'));
    expect(b.pools.find((p) => p.id === 'b-r0')).not.toBe(a.pools.find((p) => p.id === 'b-r0'));
  });

  it('keeps a route whose site changed hosts', () => {
    const interner = new ConfigInterner();
    const a = interner.intern(wire([svc('a', 1)]));
    const b = interner.intern(wire([svc('a', 1, ['a.test', 'www.a.test'])]));
    expect(b.sites[0]?.hosts).toEqual(['a.test', 'www.a.test']);
    expect(b.sites[0]?.routes[0]).toBe(a.sites[0]?.routes[0]);
  });

  it('forgets what the config no longer has', () => {
    const interner = new ConfigInterner();
    const a = interner.intern(wire([svc('a', 1)]));
    interner.intern(wire([svc('b', 2)]));
    const c = interner.intern(wire([svc('a', 1)]));
    expect(c.sites[0]).not.toBe(a.sites[0]);
    expect(c).toEqual(a);
  });

  it('keeps the unchanged routes of a site whose other route changed', () => {
    const two = (port: number): Service =>
      serviceSchema.parse({
        name: 'a',
        hosts: ['a.test'],
        routes: [
          { path: '/', upstreams: ['10.0.0.1:1'] },
          { path: '/api/', upstreams: [`10.0.0.2:${port}`], strip_prefix: port > 2 },
        ],
      });
    const interner = new ConfigInterner();
    const a = interner.intern(wire([two(2)]));
    const next = wire([two(3)]);
    const b = interner.intern(next);
    expect(b).toEqual(next);
    expect(b.sites[0]).not.toBe(a.sites[0]);
    const root = (cfg: typeof a) => cfg.sites[0]?.routes.find((r) => r.path === '/');
    expect(root(b)).toBe(root(a));
  });

  it('compares JSON values member by member', () => {
    expect(same({ a: 1, b: [1, { c: 'x' }] }, { b: [1, { c: 'x' }], a: 1 })).toBe(true);
    expect(same({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(same({ a: 1, b: 2 }, { a: 1 })).toBe(false);
    expect(same([1, 2], [2, 1])).toBe(false);
    expect(same({ a: null }, { a: {} })).toBe(false);
    expect(same({ a: [] }, { a: {} })).toBe(false);
    expect(same('1', 1)).toBe(false);
  });
});
