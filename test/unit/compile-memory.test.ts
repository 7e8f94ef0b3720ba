import { describe, expect, it } from 'vitest';
import { Compiler } from '../../src/compile/incremental.js';
import { compile } from '../../src/compile/compile.js';
import { serviceSchema, type Service } from '../../src/model/service.js';
import { BUILTIN_TEMPLATES, instantiate } from '../../src/sources/register/templates.js';

const listeners = { http: 80, https: 443 };

function simple(i: number): Service {
  return instantiate('simple', BUILTIN_TEMPLATES.simple!, {
    subdomain: `s${i}`,
    backend_ip: `10.0.${i >> 8}.${i & 255}`,
    backend_port: 8080,
    base_domain: 'e.test',
  });
}

// P8: what 10,000 simple registrations cost in memory. Routes with nothing of their own share
// the objects that say so; a route that has something keeps its own.
describe('compiled routes share what they do not own', () => {
  it('public routes without header operations share one frozen access and one frozen header set', () => {
    const services = Array.from({ length: 50 }, (_, i) => simple(i));
    for (const cfg of [compile({ services, listeners }), new Compiler().compile({ services, listeners })]) {
      const routes = cfg.sites.flatMap((s) => s.routes);
      expect(routes).toHaveLength(50);
      expect(new Set(routes.map((r) => r.access)).size).toBe(1);
      expect(new Set(routes.map((r) => r.headers)).size).toBe(1);
      const [r] = routes;
      expect(r!.access).toEqual({ public: true });
      expect(Object.isFrozen(r!.access)).toBe(true);
      expect(Object.isFrozen(r!.headers) && Object.isFrozen(r!.headers.requestSet)).toBe(true);
      expect(r!.headers).toEqual({ requestSet: [], requestDelete: [], responseSet: [], responseDelete: [] });
    }
  });

  it('a route with headers or access of its own gets its own objects, as before', () => {
    const own = serviceSchema.parse({
      name: 'own',
      hosts: ['own.e.test'],
      access: { ip: ['10.0.0.0/8'] },
      routes: [
        {
          path: '/',
          upstreams: ['10.0.0.1:80'],
          headers: { request: { set: { 'X-B': '2', 'x-a': '1' } } },
        },
      ],
    });
    const cfg = compile({ services: [own, simple(1)], listeners });
    const route = cfg.sites.flatMap((s) => s.routes).find((r) => r.service === 'own')!;
    expect(route.access).toMatchObject({ public: false, ip: ['10.0.0.0/8'] });
    expect(route.headers.requestSet).toEqual([
      ['x-a', '1'],
      ['X-B', '2'],
    ]);
    expect(Object.isFrozen(route.headers)).toBe(false);
  });
});
