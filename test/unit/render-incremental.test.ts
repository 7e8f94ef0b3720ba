import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import type { RenderEnv } from '../../src/drivers/nginx/env.js';
import { changesOf, tableOf, type FastTable } from '../../src/drivers/nginx/fast-lane.js';
import {
  lastRenderMode,
  renderNginx,
  renderNginxFull,
  type RenderedFiles,
} from '../../src/drivers/nginx/render.js';
import { serviceSchema, type Service, type ServiceInput } from '../../src/model/service.js';

/**
 * Rendering from the last rendering (render-memo.ts) must give what a full rendering gives, byte
 * for byte, and the table changes it records must turn the table before into the new one exactly.
 * Random sequences of registries, compiled as the control plane does.
 */

const env: RenderEnv = {
  prefix: '/tmp/gh-incr',
  genDir: '/tmp/gh-incr/gen/g1',
  statusSocket: '/tmp/gh-incr/run/status.sock',
  generation: 'g1',
  modulesDir: '/usr/lib/nginx/modules',
  workers: 2,
};

/** mulberry32: a seeded generator, so a failing sequence can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomService(r: () => number, name: string): Service {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const upstreams = () => [`10.0.0.${1 + Math.floor(r() * 3)}:80`, ...(r() < 0.2 ? ['10.0.0.9:80'] : [])];
  const hosts = [`${name}.t.test`];
  if (r() < 0.15) hosts.push(`www.${name}.t.test`);
  // Hosts a certificate covers (HTTPS: in nginx.conf), and hosts a wildcard site covers.
  if (r() < 0.05) hosts.push(`${name}.c.test`);
  if (r() < 0.05) hosts.push(`${name}.w.test`);
  if (r() < 0.02) hosts.push('*.w.test');
  // A host several services share (each with its own path): a site with several routes.
  const shared = r() < 0.08;
  if (shared) hosts.push('shared.t.test');
  const input: ServiceInput = {
    name,
    hosts,
    routes: [
      {
        path: shared ? `/${name}/` : '/',
        upstreams: upstreams(),
        lb: pick(['round_robin', 'least_conn', 'ip_hash', 'first'] as const),
        ...(r() < 0.1
          ? { access: { public: true, rate_limit: { requests: pick([5, 10]), per: '1s' } } }
          : {}),
        ...(r() < 0.05 ? { access: { ip: ['10.9.0.0/16'] } } : {}),
      },
      ...(r() < 0.1 ? [{ path: '/api/', upstreams: upstreams() }] : []),
    ],
    ...(r() < 0.1 ? { suspended: true } : {}),
    ...(r() < 0.2 ? { offline_page: { title: pick(['Down', 'Away', 'Later']) } } : {}),
  };
  return serviceSchema.parse(input);
}

const certs = [
  { id: 'c1', fingerprint: 'cd'.repeat(32), names: ['*.c.test'], notAfter: '2099-01-01T00:00:00.000Z' },
];

function sortedEntries(t: FastTable): [string, string][] {
  return [...t.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function expectSameFiles(got: RenderedFiles, want: RenderedFiles): void {
  expect([...got.keys()]).toEqual([...want.keys()]);
  for (const [name, text] of want) {
    // Not toBe on the texts: a 1,000-line diff says less than the first line that differs.
    if (got.get(name) !== text) {
      const a = (got.get(name) ?? '').split('\n');
      const b = text.split('\n');
      const at = b.findIndex((l, n) => a[n] !== l);
      expect({ name, at, got: a[at] }).toEqual({ name, at, got: b[at] });
    }
  }
}

/** The table through its lookups (a LayeredTable) equals `want`. */
function expectSameTable(got: FastTable, want: FastTable): void {
  expect(got.size).toBe(want.size);
  for (const [k, v] of want) expect(got.get(k)).toBe(v);
  expect(sortedEntries(got)).toEqual(sortedEntries(want));
}

function runSequence(seed: number, steps: number): { table: number; conf: number } {
  const r = rng(seed);
  const services = new Map<string, Service>();
  let next = 0;
  const add = () => {
    const name = `s${next++}`;
    services.set(name, randomService(r, name));
  };
  for (let i = 0; i < 40; i++) add();
  const withCerts = seed % 2 === 0;
  const down = new Set<string>();
  let challenge: string | undefined;
  let renewed = false;
  let prev: RenderedFiles | undefined;
  let prevFull: RenderedFiles | undefined;
  const made = { table: 0, conf: 0 };
  for (let step = 0; step < steps; step++) {
    const changes = Math.floor(r() * 4);
    for (let c = 0; c < changes; c++) {
      const names = [...services.keys()];
      const victim = names[Math.floor(r() * names.length)] as string;
      const what = r();
      if (what < 0.35) add();
      else if (what < 0.55) services.delete(victim);
      else if (what < 0.9) services.set(victim, randomService(r, victim));
      // An ACME challenge comes or goes (nginx.conf only).
      else if (what < 0.93) challenge = challenge ? undefined : `tok${step}`;
      // The certificate is renewed (another fingerprint).
      else if (what < 0.95) renewed = !renewed;
      // Health checks find a server down (a new environment: a full rendering).
      // The health checks change their one set in place.
      else if (r() < 0.5) down.clear();
      else down.add(`${victim}-r0 10.0.0.1:80`);
    }
    const cfg = compile({
      services: [...services.values()],
      listeners: { http: 8080, https: withCerts ? 8443 : 0 },
      certs: withCerts
        ? certs.map((c) => ({
            ...c,
            names: [...c.names],
            ...(renewed ? { fingerprint: 'ef'.repeat(32) } : {}),
          }))
        : [],
      ...(challenge ? { challenges: new Map([[challenge, `${challenge}.thumb`]]) } : {}),
    });
    const e = { ...env, down };
    const files = renderNginx(cfg, e);
    const mode = lastRenderMode();
    const full = renderNginxFull(cfg, e);
    expectSameFiles(files, full);
    const table = tableOf(files) as FastTable;
    expectSameTable(table, tableOf(full) as FastTable);
    if (mode !== 'full' && mode !== undefined) {
      made[mode]++;
      const before = tableOf(prev) as FastTable;
      const ch = changesOf(files);
      expect(ch?.from).toBe(before);
      const applied = new Map(before);
      for (const k of ch?.deleted ?? []) {
        expect(applied.has(k) && !table.has(k)).toBe(true);
        applied.delete(k);
      }
      for (const k of ch?.set ?? []) {
        expect(table.get(k)).not.toBe(before.get(k));
        applied.set(k, table.get(k) as string);
      }
      expect(sortedEntries(applied)).toEqual(sortedEntries(table));
      // The table before is as it was (the driver makes its patches against it).
      expectSameTable(before, tableOf(prevFull) as FastTable);
    }
    prev = files;
    prevFull = full;
  }
  return made;
}
describe('incremental rendering', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`equals a full rendering over a random sequence of registries (seed ${seed})`, () => {
      const steps = 80;
      const { table, conf } = runSequence(seed, steps);
      // Most steps change a few sites: they must be rendered from the one before, the table alone
      // when only fast-lane sites changed, nginx.conf too when a server block did.
      expect(table + conf).toBeGreaterThan(steps / 2);
      expect(table).toBeGreaterThan(steps / 8);
      expect(conf).toBeGreaterThan(steps / 8);
    });
  }

  it('renders in full again when the environment changes, and when nothing is kept', () => {
    const services = ['a', 'b', 'c'].map((n) => randomService(rng(7), n));
    const cfg = compile({ services, listeners: { http: 8080, https: 0 } });
    renderNginx(cfg, { ...env, generation: 'x1' });
    renderNginx(cfg, { ...env, generation: 'x1' });
    expect(lastRenderMode()).toBe('table');
    const files = renderNginx(cfg, { ...env, generation: 'x2', genDir: '/tmp/gh-incr/gen/x2' });
    expect(lastRenderMode()).toBe('full');
    expectSameFiles(files, renderNginxFull(cfg, { ...env, generation: 'x2', genDir: '/tmp/gh-incr/gen/x2' }));
  });

  it('renders again the unchanged sites whose pool changed (same site and route objects)', () => {
    const services = ['a', 'b', 'c'].map((n) =>
      serviceSchema.parse({ name: n, hosts: [`${n}.t.test`], routes: [{ upstreams: ['10.0.0.1:80'] }] }),
    );
    const cfg = compile({ services, listeners: { http: 8080, https: 0 } });
    renderNginx(cfg, env);
    // A config from elsewhere (an edge's feed) may change a pool alone: its sites are the same objects.
    const pools = cfg.pools.map((p) => (p.id === 'a-r0' ? { ...p, servers: ['10.0.0.7:80'] } : p));
    const changed = { ...cfg, pools, hash: 'ab12' };
    const files = renderNginx(changed, env);
    expect(lastRenderMode()).toBe('table');
    expectSameFiles(files, renderNginxFull(changed, env));
    expect(changesOf(files)?.set.length).toBeGreaterThan(0);
    expect(tableOf(files)?.get([...(tableOf(files)?.keys() ?? [])][0] as string)).toContain('10.0.0.7:80');
  });

  it('sees a config whose arrays were changed in place', () => {
    const services = ['a', 'b'].map((n) => randomService(rng(9), n));
    const cfg = compile({ services, listeners: { http: 8080, https: 0 } });
    renderNginx(cfg, env);
    const more = compile({
      services: [...services, randomService(rng(9), 'c')],
      listeners: { http: 8080, https: 0 },
    });
    cfg.sites.splice(0, cfg.sites.length, ...more.sites);
    cfg.pools.splice(0, cfg.pools.length, ...more.pools);
    cfg.acme.push(['tok', 'tok.thumb']);
    cfg.hash = more.hash;
    expectSameFiles(renderNginx(cfg, env), renderNginxFull(cfg, env));
    expect(lastRenderMode()).toBe('conf');
  });

  it('throws for a bad value in a new site as a full rendering does', () => {
    const services = ['a', 'b'].map((n) => randomService(rng(8), n));
    const cfg = compile({ services, listeners: { http: 8080, https: 0 } });
    renderNginx(cfg, env);
    const bad = compile({
      services: [...services, randomService(rng(8), 'c')],
      listeners: { http: 8080, https: 0 },
    });
    const site = bad.sites.find((s) => s.hosts[0] === 'c.t.test');
    expect(site).toBeDefined();
    const route = site?.routes[0];
    if (!site || !route) return;
    // A control character in the offline title (the schema refuses it; a config from elsewhere might not).
    site.routes = [{ ...route, offline: { title: 'x\u0007y' } }];
    expect(() => renderNginx(bad, env)).toThrow(/unsafe/);
    expect(() => renderNginxFull(bad, env)).toThrow(/unsafe/);
    // And what was kept is still right for the next rendering.
    expectSameFiles(renderNginx(cfg, env), renderNginxFull(cfg, env));
  });
});
