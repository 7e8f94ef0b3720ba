import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sealer } from '../../src/store/secrets.js';
import { createLogger } from '../../src/observe/log.js';
import { Registry } from '../../src/registry/registry.js';
import { type Db } from '../../src/store/db.js';
import { openTestDb, STORES, stopSharedPostgres } from '../helpers/postgres.js';
import type { AcmeIssuer } from '../../src/tls/acme.js';
import { CertManager } from '../../src/tls/manager.js';
import { CertStore } from '../../src/tls/store.js';
import { makeCa } from '../helpers/tls.js';

/** What the manager orders, with a CA (a stand-in issuer signing with a test CA) that refuses some names. */
afterAll(stopSharedPostgres);

describe.each(STORES)('certificate manager (%s): what to order', (kind) => {
  let dir: string;
  let db: Db;
  let registry: Registry;
  let store: CertStore;
  let ca: ReturnType<typeof makeCa>;
  const ordered: string[] = [];
  const refused = new Set(['bad.example.test', '*.base.test']);
  const issuer = {
    issue: async (names: string[]) => {
      ordered.push(names.join(','));
      if (names.some((n) => refused.has(n))) throw new Error('the CA refused');
      return ca.issue(names);
    },
  } as unknown as AcmeIssuer;
  const put = (name: string, hosts: string[]) =>
    registry.put({ name, hosts, routes: [{ upstreams: ['10.0.0.1:80'] }] }, { actor: 't', source: 'api' });
  const covered = async (host: string) => (await store.list()).some((c) => c.names.includes(host));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gh-mgr-'));
    ca = makeCa(dir);
    db = await openTestDb(kind);
    registry = await Registry.open(db, new Map());
    store = new CertStore(db, await Sealer.load(dir));
  });
  afterAll(async () => {
    await db.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it('after a failed order of several names, orders each alone: one bad name holds no other back', async () => {
    const m = new CertManager(registry, store, issuer, createLogger('silent'));
    await put('shop', ['bad.example.test', 'good.example.test']);
    await m.kick();
    expect(ordered).toEqual(['bad.example.test,good.example.test']);
    expect(await covered('good.example.test')).toBe(false);
    // The failure backs off; past it, the names go one by one.
    m.orders.delete('bad.example.test,good.example.test');
    await m.kick();
    expect(await covered('good.example.test')).toBe(true);
    expect(await covered('bad.example.test')).toBe(false);
  });

  it('forgets an issued order after an hour; one under way or failed stays', async () => {
    const m = new CertManager(registry, store, issuer, createLogger('silent'));
    const hourAgo = new Date(Date.now() - 61 * 60_000).toISOString();
    m.orders.set('old.test', { names: ['old.test'], state: 'issued', updatedAt: hourAgo });
    m.orders.set('new.test', { names: ['new.test'], state: 'issued', updatedAt: new Date().toISOString() });
    m.orders.set('x.test', { names: ['x.test'], state: 'failed', updatedAt: hourAgo, retryAt: hourAgo });
    await m.kick();
    expect(m.orders.has('old.test')).toBe(false);
    expect(m.orders.has('new.test')).toBe(true);
    expect(m.orders.has('x.test')).toBe(true);
  });

  it('remembers backoff across a restart: a failing name is not retried at once', async () => {
    const before = ordered.length;
    const m = new CertManager(registry, store, issuer, createLogger('silent'));
    await m.start();
    await m.kick();
    m.stop();
    const bad = m.orders.get('bad.example.test');
    expect(bad?.state).toBe('failed');
    expect(Date.parse(bad?.retryAt ?? '')).toBeGreaterThan(Date.now());
    expect(ordered.slice(before)).not.toContain('bad.example.test');
  });

  it('while the base wildcard keeps failing, hosts under it get their own certificates', async () => {
    ordered.length = 0;
    const m = new CertManager(registry, store, issuer, createLogger('silent'), {
      baseDomain: 'base.test',
      hasDns: async (n) => n.endsWith('base.test'),
    });
    await put('app', ['app.base.test']);
    await m.kick();
    const underBase = () => ordered.filter((o) => o.includes('base.test'));
    expect(underBase()).toEqual(['*.base.test,base.test']);
    expect(await covered('app.base.test')).toBe(false);
    m.orders.delete('*.base.test,base.test');
    await m.kick();
    expect(underBase()).toContain('app.base.test');
    expect(await covered('app.base.test')).toBe(true);
  });
});
