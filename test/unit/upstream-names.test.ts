import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import { nameLookup } from '../../src/dns/name-lookup.js';
import { UpstreamNames } from '../../src/dns/upstream-names.js';
import { serviceSchema, type Service } from '../../src/model/service.js';
import { silentLogger } from '../../src/observe/log.js';
import { startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.js';
import { freePort } from '../helpers/net.js';

const svc = (name: string, upstreams: string[], tcp: string[] = []): Service =>
  serviceSchema.parse({
    name,
    hosts: [`${name}.test`],
    routes: [{ upstreams, health: { path: '/health' } }],
    ...(tcp.length ? { tcp: [{ port: 1883, upstreams: tcp }] } : {}),
  });

/**
 * Resolution of upstream names against a real dnsmasq (answers with TTL 3 s), on a clock the test
 * moves: re-resolved when the TTL runs out, NXDOMAIN drops the addresses at once, no answer keeps
 * the last one for at most one more TTL.
 */
describe('upstream names: resolution, TTL and failure', () => {
  let dns: Dnsmasq;
  let clock = 1_000_000;
  const now = () => clock;
  let changes = 0;
  let names: UpstreamNames;

  beforeAll(async () => {
    dns = await startDnsmasq(
      'names.test',
      { 'app.names.test': ['127.0.0.2'], 'db.names.test': ['127.0.0.5'] },
      3,
    );
    names = new UpstreamNames({
      lookup: nameLookup({ kind: 'server', server: dns.server }, 300),
      log: silentLogger(),
      onChange: () => changes++,
      now,
    });
  });
  afterAll(async () => {
    names?.stop();
    await dns?.close();
  });

  it('resolves the names services use, and compiles them as addresses', async () => {
    const ip = svc('ip', ['10.0.0.1:80']);
    const named = svc('named', ['app.names.test:8080', '10.0.0.9:8080'], ['db.names.test:1883']);
    await names.track([ip, named]);
    expect(changes).toBe(1);
    expect(names.addresses('app.names.test')).toEqual(['127.0.0.2']);
    const [s] = names.status();
    expect(s).toMatchObject({ name: 'app.names.test', addresses: ['127.0.0.2'], state: 'ok', ttlSeconds: 3 });
    // A service without names is handed over as it is (its compiled part is reused as before).
    expect(names.view(ip)).toBe(ip);
    const v = names.view(named);
    expect(names.view(named)).toBe(v);
    expect(v.routes[0]?.upstreams).toEqual(['127.0.0.2:8080', '10.0.0.9:8080']);
    expect(v.tcp[0]?.upstreams).toEqual(['127.0.0.5:1883']);
    const cfg = compile({ services: [names.view(ip), v], listeners: { http: 80, https: 0 } });
    expect(cfg.pools.find((p) => p.id === 'named-r0')).toMatchObject({
      servers: ['127.0.0.2:8080', '10.0.0.9:8080'],
    });
    expect(cfg.pools.find((p) => p.id === 'named-r0')?.down).toBeUndefined();
  });

  it('asks again only when the TTL ran out, and follows a changed record', async () => {
    await dns.setRecords({ 'app.names.test': ['127.0.0.3'], 'db.names.test': ['127.0.0.5'] });
    clock += 2000;
    await names.tick();
    expect(names.addresses('app.names.test')).toEqual(['127.0.0.2']);
    const before = changes;
    clock += 1000;
    await names.tick();
    expect(names.addresses('app.names.test')).toEqual(['127.0.0.3']);
    expect(changes).toBe(before + 1);
    // Nothing changed at the next expiry: no recompile.
    clock += 3000;
    await names.tick();
    expect(changes).toBe(before + 1);
  });

  it('NXDOMAIN: the addresses go at once, the route has no live peer (offline page)', async () => {
    const named = svc('named', ['app.names.test:8080']);
    await names.track([named]);
    await dns.setRecords({ 'other.names.test': ['127.0.0.9'] });
    clock += 3000;
    await names.tick();
    expect(names.addresses('app.names.test')).toEqual([]);
    const s = names.status().find((x) => x.name === 'app.names.test');
    expect(s).toMatchObject({ state: 'unresolved', addresses: [] });
    expect(s?.error).toMatch(/no such name/);
    const v = names.view(named);
    expect(v.routes[0]?.upstreams).toEqual(['0.0.0.1:8080']);
    expect(v.routes[0]?.health).toBeUndefined();
    const pool = compile({ services: [v], listeners: { http: 80, https: 0 } }).pools[0];
    expect(pool).toMatchObject({ servers: ['0.0.0.1:8080'], down: true });
    // Restored: asked again within the retry (at most 5 s, here the TTL), served again.
    await dns.setRecords({ 'app.names.test': ['127.0.0.4'] });
    clock += 3000;
    await names.tick();
    expect(names.addresses('app.names.test')).toEqual(['127.0.0.4']);
    expect(compile({ services: [names.view(named)], listeners: { http: 80, https: 0 } }).pools[0]?.down).toBe(
      undefined,
    );
  });

  it('no answer: the last answer is kept for one more TTL, then dropped', async () => {
    // Resolved at `clock` with TTL 3 s: asked again at +3 s, kept until +6 s without an answer.
    dns.pause();
    try {
      clock += 3000;
      await names.tick();
      expect(names.addresses('app.names.test')).toEqual(['127.0.0.4']);
      const s = names.status().find((x) => x.name === 'app.names.test');
      expect(s?.state).toBe('stale');
      expect(s?.error).toMatch(/did not answer \(ETIMEOUT\)/);
      expect(s?.staleUntil).toBe(new Date(clock + 3000).toISOString());
      clock += 2999;
      await names.tick();
      expect(names.addresses('app.names.test')).toEqual(['127.0.0.4']);
      const before = changes;
      clock += 1;
      await names.tick();
      expect(names.addresses('app.names.test')).toEqual([]);
      expect(names.status().find((x) => x.name === 'app.names.test')?.state).toBe('unresolved');
      expect(changes).toBe(before + 1);
    } finally {
      dns.resume();
    }
    clock += 3000;
    await names.tick();
    expect(names.addresses('app.names.test')).toEqual(['127.0.0.4']);
  });

  it('a resolver that refuses (nothing listens there) is a failure, not an absence', async () => {
    const t = 5_000_000;
    const lone = new UpstreamNames({
      lookup: nameLookup({ kind: 'server', server: `127.0.0.1:${await freePort()}` }, 300),
      log: silentLogger(),
      onChange: () => undefined,
      now: () => t,
    });
    await lone.track([svc('x', ['app.names.test:80'])]);
    const s = lone.status()[0];
    expect(s).toMatchObject({ state: 'unresolved', addresses: [] });
    expect(s?.error).toMatch(/did not answer/);
  });

  it("leaves out an address that is one of Gatehouse's own listeners", async () => {
    const n = new UpstreamNames({
      lookup: () => Promise.resolve({ kind: 'found', addresses: ['127.0.0.1', '192.0.2.7'] }),
      log: silentLogger(),
      onChange: () => undefined,
      now: () => 0,
      refuse: (ip, port) => (ip === '127.0.0.1' && port === 7070 ? "Gatehouse's own API port" : undefined),
    });
    const s = svc('sneaky', ['me.example:7070']);
    await n.track([s]);
    expect(n.view(s).routes[0]?.upstreams).toEqual(['192.0.2.7:7070']);
    expect(n.view(svc('fine', ['me.example:8080'])).routes[0]?.upstreams).toEqual([
      '127.0.0.1:8080',
      '192.0.2.7:8080',
    ]);
    expect(n.status()[0]?.refused).toEqual(["127.0.0.1:7070: Gatehouse's own API port"]);
  });

  it('clamps TTLs to [1 s, 300 s] and forgets names no service uses', async () => {
    let t = 0;
    const seen: string[] = [];
    const n = new UpstreamNames({
      lookup: (name) => {
        seen.push(name);
        return Promise.resolve({
          kind: 'found',
          addresses: ['192.0.2.1'],
          ttlMs: name.startsWith('long') ? 86_400_000 : 0,
        });
      },
      log: silentLogger(),
      onChange: () => undefined,
      now: () => t,
    });
    await n.track([svc('a', ['long.example:80', 'short.example:80'])]);
    expect(n.status().map((s) => s.ttlSeconds)).toEqual([300, 1]);
    t += 1000;
    await n.tick();
    expect(seen).toEqual(['long.example', 'short.example', 'short.example']);
    await n.track([svc('a', ['short.example:80'])]);
    expect(n.status().map((s) => s.name)).toEqual(['short.example']);
  });
});
