import { describe, expect, it } from 'vitest';
import { compile, type CompileInput } from '../../src/compile/compile.js';
import type { EdgeConfig } from '../../src/compile/edge-config.js';
import { Compiler } from '../../src/compile/incremental.js';
import { serviceSchema, type Service } from '../../src/model/service.js';
import type { CertRef } from '../../src/model/tls.js';

/** mulberry32: a seeded generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'ab', 'ba', 'z9', 'm-1'];
// Shared across services, with wildcards and a name a wildcard covers.
const HOSTS = ['a.test', 'b.test', 'c.test', '*.w.test', 'x.w.test', 'y.w.test', 'p.test', 'q.test'];
const PATHS = ['/', '/api/', '/api/v1/', '/x', '/ws'];
// Few upstreams: routes of different services often share a pool.
const UPSTREAMS = ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:8080', 'https://10.0.0.4:443'];
const CERTS: CertRef[] = [
  { id: 'c1', fingerprint: 'f1', names: ['a.test', 'b.test'], notAfter: '2030-01-01' },
  { id: 'c2', fingerprint: 'f2', names: ['*.w.test'], notAfter: '2031-01-01' },
  { id: 'c3', fingerprint: 'f3', names: ['x.w.test', 'p.test'], notAfter: '2029-01-01' },
  {
    id: 'c4',
    fingerprint: 'f4',
    names: ['a.test', 'portal.test'],
    notAfter: '2030-01-01',
    createdAt: '2025',
  },
];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T;
}
function some<T>(r: () => number, xs: readonly T[], max: number): T[] {
  const n = 1 + Math.floor(r() * max);
  return [...new Set(Array.from({ length: n }, () => pick(r, xs)))];
}

function randomService(r: () => number, name: string): Service {
  const routes =
    r() < 0.15
      ? []
      : some(r, PATHS, 3).map((path) => ({
          path,
          upstreams: r() < 0.8 ? [pick(r, UPSTREAMS.slice(0, 3))] : [pick(r, UPSTREAMS.slice(3))],
          ...(r() < 0.2 ? { health: { path: '/h' } } : {}),
          ...(r() < 0.2 ? { lb: 'least_conn' as const } : {}),
          ...(r() < 0.15 ? { access: { login: { groups: ['g'] } } } : {}),
        }));
  const tcp =
    routes.length === 0 || r() < 0.15
      ? [
          {
            port: pick(r, [5432, 6379, 7000]),
            upstreams: [pick(r, ['10.0.1.1:5432', '10.0.1.2:6379'])],
            ...(r() < 0.5
              ? {
                  tls: pick(r, ['terminate', 'passthrough'] as const),
                  sni: [pick(r, ['a.test', 'x.w.test', 'n.test'])],
                }
              : {}),
          },
        ]
      : [];
  return serviceSchema.parse({
    name,
    hosts: routes.length > 0 ? some(r, HOSTS, 3) : [],
    routes,
    tcp,
    ...(r() < 0.3 ? { tls: 'none' } : {}),
    ...(r() < 0.1 ? { suspended: true } : {}),
    ...(r() < 0.1 ? { hsts: true } : {}),
    ...(r() < 0.2 ? { labels: { n: String(r()) } } : {}),
  });
}

/** Every Site, SiteRoute and Pool of a config, for identity checks. */
function objects(cfg: EdgeConfig): Set<object> {
  return new Set<object>([...cfg.sites, ...cfg.sites.flatMap((s) => s.routes), ...cfg.pools]);
}

describe('Compiler (incremental compile)', () => {
  it('gives what compile() gives after every step of random changes, and never changes what it gave', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const r = rng(seed);
      const inc = new Compiler();
      const services = new Map<string, Service>();
      let certs: CertRef[] | undefined = undefined;
      let ownHosts: string[] | undefined = undefined;
      let challenges = new Map<string, string>();
      let https = 443;
      let prev: { cfg: EdgeConfig; copy: EdgeConfig } | undefined;
      for (let step = 0; step < 60; step++) {
        const ops = r() < 0.1 ? 8 : 1 + Math.floor(r() * 3);
        for (let i = 0; i < ops; i++) {
          const name = pick(r, NAMES);
          const x = r();
          if (x < 0.25) services.delete(name);
          else if (x < 0.3 && services.has(name)) services.set(name, { ...(services.get(name) as Service) });
          else services.set(name, randomService(r, name));
        }
        const y = r();
        if (y < 0.08) certs = undefined;
        else if (y < 0.2) certs = CERTS.filter(() => r() < 0.6);
        else if (y < 0.25 && certs) certs = certs.map((c) => ({ ...c, fingerprint: `${c.fingerprint}x` }));
        if (r() < 0.1) ownHosts = r() < 0.5 ? undefined : some(r, ['portal.test', 'a.test', 'n.test'], 2);
        if (r() < 0.1) challenges = new Map(r() < 0.5 ? [] : [[`t${step}`, `k${step}.x`]]);
        if (r() < 0.03) https = https ? 0 : 443;
        // Any order: the config does not depend on it.
        const list = [...services.values()].sort(() => r() - 0.5);
        const input: CompileInput = {
          services: list,
          listeners: { http: 80, https },
          ...(certs ? { certs } : {}),
          ...(ownHosts ? { ownHosts } : {}),
          challenges,
        };
        const got = inc.compile(input);
        expect(got, `seed ${seed} step ${step}`).toStrictEqual(compile(input));
        if (prev) expect(prev.cfg, `seed ${seed} step ${step}: old config changed`).toEqual(prev.copy);
        prev = { cfg: got, copy: structuredClone(got) };
      }
    }
  }, 60_000); // ~2 s alone; CPU-bound, so a loaded machine (CI beside other work) stretches it

  it('keeps unchanged sites, routes and pools the same objects', () => {
    const mk = (i: number, upstream = '10.0.0.1:80') =>
      serviceSchema.parse({
        name: `s${String(i).padStart(3, '0')}`,
        hosts: [`s${i}.test`, 'shared.test'],
        routes: [
          { path: `/p${i}/`, upstreams: [upstream] },
          { path: '/', upstreams: [`10.0.2.${i}:80`] },
        ],
      });
    const services = Array.from({ length: 100 }, (_, i) => mk(i));
    const inc = new Compiler();
    const before = inc.compile({ services, listeners: { http: 80, https: 0 } });
    // One service changes its own upstream: everything of the others stays.
    services[50] = mk(50, '10.0.0.9:80');
    const after = inc.compile({ services, listeners: { http: 80, https: 0 } });
    expect(after).toEqual(compile({ services, listeners: { http: 80, https: 0 } }));
    const kept = objects(before);
    const again = [...objects(after)].filter((o) => kept.has(o));
    // All but s50's site (and shared.test's, which lists every route), s50's routes and its pool.
    expect(after.sites.filter((s) => !kept.has(s)).map((s) => s.hosts)).toEqual([
      ['s50.test'],
      ['shared.test'],
    ]);
    expect(after.pools.filter((p) => !kept.has(p)).map((p) => p.id)).toEqual(['s050-r0', 's050-r1']);
    expect(again.length).toBeGreaterThan(kept.size - 10);
    // The owner of the shared pool (s000) is removed: the others now use s001's.
    const rest = services.slice(1);
    const third = inc.compile({ services: rest, listeners: { http: 80, https: 0 } });
    expect(third).toEqual(compile({ services: rest, listeners: { http: 80, https: 0 } }));
    expect(third.sites.find((s) => s.hosts[0] === 's2.test')?.routes[0]?.pool).toBe('s001-r0');
  });

  it('rebuilds from scratch when most services changed, with the same result', () => {
    const svc = (name: string, port: number) =>
      serviceSchema.parse({ name, hosts: [`${name}.test`], routes: [{ upstreams: [`10.0.0.1:${port}`] }] });
    const inc = new Compiler();
    const a = ['a', 'b', 'c', 'd'].map((n) => svc(n, 80));
    inc.compile({ services: a, listeners: { http: 80, https: 0 } });
    const b = ['a', 'b', 'c', 'e'].map((n) => svc(n, 81));
    expect(inc.compile({ services: b, listeners: { http: 80, https: 0 } })).toEqual(
      compile({ services: b, listeners: { http: 80, https: 0 } }),
    );
  });
});
