import { randomBytes } from 'node:crypto';
import { readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Handovers } from '../../src/gate/handovers.js';
import { FailureLimiter } from '../../src/gate/limiter.js';
import { LinkStore } from '../../src/gate/links.js';
import { Registry } from '../../src/registry/registry.js';
import type { Db } from '../../src/store/db.js';
import { Sealer } from '../../src/store/secrets.js';
import { openTestDb, STORES, stopSharedPostgres } from '../helpers/postgres.js';
import { testDir } from '../helpers/tmp.js';

afterAll(stopSharedPostgres);

const WINDOW = 5 * 60_000;

describe.each(STORES)('sign-in state kept in the store (%s)', (kind) => {
  let db: Db;
  beforeEach(async () => {
    db = await openTestDb(kind);
  });
  afterEach(async () => {
    await db.destroy();
  });

  describe('FailureLimiter', () => {
    it('counts the failures every instance on the store records, and blocks for the rest of the window', async () => {
      // Two instances on one store: two replicas' throttles.
      const a = new FailureLimiter(db, 'user', 5, WINDOW);
      const b = new FailureLimiter(db, 'user', 5, WINDOW);
      const t0 = Date.parse('2026-12-07T00:00:00.000Z');
      for (let i = 0; i < 4; i++) await (i % 2 ? a : b).fail('rita', t0 + i * 1000);
      expect(await a.blockedFor('rita', t0 + 5000)).toBe(0);
      await b.fail('rita', t0 + 5000);
      // The oldest failure leaves the window 300 s after it was made.
      expect(await a.blockedFor('rita', t0 + 6000)).toBe(294);
      expect(await b.blockedFor('rita', t0 + 6000)).toBe(294);
      // Other keys and other limiters' counts are their own.
      expect(await a.blockedFor('otto', t0 + 6000)).toBe(0);
      expect(await new FailureLimiter(db, 'api-user', 5, WINDOW).blockedFor('rita', t0 + 6000)).toBe(0);
      // Once the oldest leaves the window, one more try is allowed.
      expect(await a.blockedFor('rita', t0 + WINDOW + 1)).toBe(0);
      // A success elsewhere clears the key everywhere.
      await a.reset('rita');
      expect(await b.blockedFor('rita', t0 + 6000)).toBe(0);
    });

    it('prunes its rows older than the window as failures come', async () => {
      const l = new FailureLimiter(db, 'ip', 20, WINDOW);
      const other = new FailureLimiter(db, 'totp', 5, 10 * WINDOW);
      const t0 = Date.parse('2026-12-07T00:00:00.000Z');
      for (let i = 0; i < 3; i++) await l.fail(`10.0.0.${i}`, t0);
      await other.fail('u1', t0);
      await l.fail('10.0.0.9', t0 + WINDOW + 60_000);
      const rows = await db.selectFrom('sign_in_failures').select('key').orderBy('key').execute();
      // Its own old rows went; another limiter's (longer window) stayed.
      expect(rows.map((r) => r.key)).toEqual(['ip 10.0.0.9', 'totp u1']);
    });
  });

  describe('Handovers', () => {
    const sealer = Sealer.fromKey(randomBytes(32));

    it('a code issued by one instance is taken by another, once', async () => {
      const a = new Handovers(db, sealer);
      const b = new Handovers(db, sealer);
      const code = await a.issue('session-token-1', 'other.test');
      const got = await b.take(code);
      expect(got?.token).toBe('session-token-1');
      expect(got?.host).toBe('other.test');
      expect(got!.expires).toBeGreaterThan(Date.now() + 50_000);
      expect(got!.expires).toBeLessThanOrEqual(Date.now() + 60_000);
      expect(await a.take(code)).toBeUndefined();
      expect(await b.take(code)).toBeUndefined();
      expect(await b.take('')).toBeUndefined();
      expect(await b.take('not-a-code')).toBeUndefined();
    });

    it('stores neither the code nor the token in the clear; expired codes go as new ones come', async () => {
      const h = new Handovers(db, sealer);
      const old = await h.issue('old-token', 'a.test', Date.now() - 120_000);
      const code = await h.issue('new-token', 'b.test');
      const rows = await db.selectFrom('handovers').selectAll().execute();
      expect(rows).toHaveLength(1);
      expect(JSON.stringify(rows)).not.toContain(code);
      expect(JSON.stringify(rows)).not.toContain('new-token');
      expect(await h.take(old)).toBeUndefined();
      expect((await h.take(code))?.token).toBe('new-token');
    });

    it('two instances racing for one code: exactly one gets it', async () => {
      const code = await new Handovers(db, sealer).issue('t', 'h.test');
      const got = await Promise.all(Array.from({ length: 6 }, () => new Handovers(db, sealer).take(code)));
      expect(got.filter((g) => g?.token === 't')).toHaveLength(1);
    });

    it('a code sealed under another data key is spent, not a crash', async () => {
      const code = await new Handovers(db, sealer).issue('t', 'h.test');
      expect(await new Handovers(db, Sealer.fromKey(randomBytes(32))).take(code)).toBeUndefined();
    });
  });

  describe('LinkStore admissions', () => {
    it('writes the files a store holds, removes stale ones, and refreshes one address on request', async () => {
      const registry = await Registry.open(db, new Map());
      await registry.put(
        {
          name: 'shared',
          hosts: ['shared.test'],
          routes: [{ upstreams: ['10.0.0.1:80'] }],
          access: { links: true },
        },
        { actor: 't', source: 'api' },
      );
      const dirA = await testDir('links-a-');
      const dirB = await testDir('links-b-');
      const a = new LinkStore(db, registry, dirA);
      const b = new LinkStore(db, registry, dirB);
      const told: string[] = [];
      a.onAdmission((service, ip) => told.push(`${service} ${ip}`));
      const { link, token } = await a.create({ service: 'shared', ttl: '1h', max_ips: 3, note: '' });
      expect((await a.open(token, '192.0.2.7', 'ua', undefined)).kind).toBe('admitted');
      expect(told).toEqual(['shared 192.0.2.7']);
      const fileA = join(dirA, 'l', 'shared', '192.0.2.7');
      const fileB = join(dirB, 'l', 'shared', '192.0.2.7');
      const until = String(Date.parse(link.expires_at));
      expect(await readFile(fileA, 'utf8')).toBe(until);
      // B was told: it writes the same file from the store.
      expect(await b.refreshAddress('shared', '192.0.2.7')).toBe(true);
      expect(await readFile(fileB, 'utf8')).toBe(until);
      // Names that cannot be a service or an address are refused, nothing written.
      expect(await b.refreshAddress('../x', '192.0.2.7')).toBe(false);
      expect(await b.refreshAddress('shared', 'nope')).toBe(false);

      // Revoked on A: told, and B removes its file when it refreshes.
      await a.revoke(link.id);
      expect(told).toEqual(['shared 192.0.2.7', 'shared 192.0.2.7']);
      await expect(stat(fileA)).rejects.toThrow();
      await b.refreshAddress('shared', '192.0.2.7');
      await expect(stat(fileB)).rejects.toThrow();

      // A replica that missed both: its files become the store's as it resyncs.
      const second = await a.create({ service: 'shared', ttl: '1h', max_ips: 3, note: '' });
      expect((await a.open(second.token, '2001:db8::5', 'ua', undefined)).kind).toBe('admitted');
      const dirC = await testDir('links-c-');
      const stale = join(dirC, 'l', 'shared', '192.0.2.7');
      await mkdir(join(dirC, 'l', 'shared'), { recursive: true });
      await writeFile(stale, String(Date.now() + 3_600_000));
      const c = new LinkStore(db, registry, dirC);
      expect(await c.syncAdmissions()).toBe(2);
      await expect(stat(stale)).rejects.toThrow();
      expect(await readFile(join(dirC, 'l', 'shared', '2001:db8::5'), 'utf8')).toBe(
        String(Date.parse(second.link.expires_at)),
      );
      expect(await c.syncAdmissions()).toBe(0);
    });
  });
});
