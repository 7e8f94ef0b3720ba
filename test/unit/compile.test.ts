import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import { serviceSchema } from '../../src/model/service.js';
import { BUILTIN_TEMPLATES, instantiate } from '../../src/sources/register/templates.js';

const listeners = { http: 80, https: 443 };

describe('compile', () => {
  it('shares one pool between routes with the same upstreams', () => {
    const full = instantiate('full', BUILTIN_TEMPLATES.full!, {
      subdomain: 's1',
      backend_ip: '10.0.1.7',
      base_domain: 'e.com',
    });
    const cfg = compile({ services: [full], listeners });
    // /api/ and /ws both go to :18789.
    expect(cfg.pools.map((p) => p.servers[0])).toEqual(['10.0.1.7:3000', '10.0.1.7:18789', '10.0.1.7:8888']);
    const byPath = Object.fromEntries(cfg.sites[0]!.routes.map((r) => [r.path, r.pool]));
    expect(byPath['/api/']).toBe(byPath['/ws']);
    expect(byPath['/']).not.toBe(byPath['/api/']);
  });

  it('groups hosts with the same routes into one site, longest path first', () => {
    const svc = serviceSchema.parse({
      name: 'a',
      hosts: ['b.test', 'a.test'],
      routes: [
        { path: '/', upstreams: ['10.0.0.1:80'] },
        { path: '/api/v1/', upstreams: ['10.0.0.2:80'] },
        { path: '/api/', upstreams: ['10.0.0.3:80'] },
      ],
    });
    const other = serviceSchema.parse({
      name: 'b',
      hosts: ['a.test'],
      routes: [{ path: '/x/', upstreams: ['10.0.0.4:80'] }],
    });
    const cfg = compile({ services: [svc, other], listeners });
    expect(cfg.sites.map((s) => [s.hosts, s.routes.map((r) => `${r.service}${r.path}`)])).toEqual([
      [['a.test'], ['a/api/v1/', 'a/api/', 'b/x/', 'a/']],
      [['b.test'], ['a/api/v1/', 'a/api/', 'a/']],
    ]);
  });

  it('gives a different hash for any change that reaches the proxy, and the same for labels only', () => {
    const base = { name: 'a', hosts: ['a.test'], routes: [{ upstreams: ['10.0.0.1:80'] }] };
    const h = (s: object) => compile({ services: [serviceSchema.parse(s)], listeners }).hash;
    expect(h({ ...base, labels: { note: 'x' } })).toBe(h(base));
    expect(h({ ...base, hosts: ['b.test'] })).not.toBe(h(base));
    expect(h({ ...base, routes: [{ upstreams: ['10.0.0.1:81'] }] })).not.toBe(h(base));
  });
});
