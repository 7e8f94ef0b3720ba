import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../src/store/db.js';
import { rotateDataKey } from '../../src/store/rotate.js';
import { DATA_KEY_CHECK, generatedSecret, Sealer } from '../../src/store/secrets.js';
import { openTestDb, STORES, stopSharedPostgres } from '../helpers/postgres.js';

afterAll(stopSharedPostgres);

const OLD = 'the secret every replica starts with';
const NEXT = 'the secret the data key goes to next';

/**
 * Replicas sharing GATEHOUSE_SECRET: one rotates the data key; the others learn which key is in
 * force from the store's `data_key_check` row (never the secret): a replica holding the new one as
 * GATEHOUSE_SECRET_NEXT switches to it, one without refuses to seal or open (503 data_key_rotated).
 */
describe.each(STORES)('data key followed by other replicas (%s)', (kind) => {
  let dir: string;
  let db: Db;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gh-follow-'));
    db = await openTestDb(kind);
  });
  afterEach(async () => {
    await db.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it('a replica with GATEHOUSE_SECRET_NEXT switches; one without refuses with data_key_rotated', async () => {
    const a = await Sealer.load(dir, OLD, db, NEXT);
    const b = await Sealer.load(dir, OLD, db, NEXT);
    const c = await Sealer.load(dir, OLD, db);
    const plain = await generatedSecret(db, a, 'session-key');
    // Nothing rotated yet: every replica is current.
    expect(await b.follow(db, [OLD, NEXT])).toBe('current');

    // Rotated on A to its GATEHOUSE_SECRET_NEXT (new_secret left out).
    const r = await rotateDataKey(db, a, { dataDir: dir, currentSecret: OLD, nextSecret: NEXT });
    expect(r.source).toBe('secret');
    expect(a.secretInForce).toBe(NEXT);
    const check = await db
      .selectFrom('meta')
      .select('value')
      .where('key', '=', DATA_KEY_CHECK)
      .executeTakeFirst();
    expect(check?.value).toMatch(/^v1:/);
    expect(check?.value).not.toContain(NEXT);

    expect(await b.follow(db, [OLD, NEXT])).toBe('switched');
    expect(b.secretInForce).toBe(NEXT);
    const row = await db
      .selectFrom('secrets')
      .select('value')
      .where('name', '=', 'session-key')
      .executeTakeFirstOrThrow();
    expect(b.open(row.value)).toBe(plain);
    expect(a.open(b.seal('sealed by b'))).toBe('sealed by b');

    expect(await c.follow(db, [OLD, undefined])).toBe('rotated');
    expect(c.rotated).toBe(true);
    const refused = {
      code: 'data_key_rotated',
      status: 503,
      message: expect.stringContaining('GATEHOUSE_SECRET'),
    };
    expect(() => c.seal('x')).toThrow(expect.objectContaining(refused));
    expect(() => c.open(row.value)).toThrow(expect.objectContaining(refused));
    // Asked again it stays refused; nothing was written with its stale key.
    expect(await c.follow(db, [OLD, undefined])).toBe('rotated');
    expect(
      a.open(
        (
          await db
            .selectFrom('secrets')
            .select('value')
            .where('name', '=', 'session-key')
            .executeTakeFirstOrThrow()
        ).value,
      ),
    ).toBe(plain);

    // A start: the secret pair opens with NEXT; the old secret alone is refused.
    expect((await Sealer.load(dir, OLD, db, NEXT)).secretInForce).toBe(NEXT);
    expect((await Sealer.load(dir, NEXT, db)).secretInForce).toBe(NEXT);
    await expect(Sealer.load(dir, OLD, db)).rejects.toMatchObject({ code: 'data_key_mismatch' });

    // A second rotation on A needs a secret other than the one in force now.
    await expect(
      rotateDataKey(db, a, { dataDir: dir, currentSecret: OLD, nextSecret: NEXT }),
    ).rejects.toMatchObject({ status: 400, issues: [{ field: 'new_secret' }] });
  });

  it('refuses a new_secret other than GATEHOUSE_SECRET_NEXT (replicas holding it would be locked out)', async () => {
    const a = await Sealer.load(dir, OLD, db, NEXT);
    await generatedSecret(db, a, 'session-key');
    await expect(
      rotateDataKey(db, a, {
        dataDir: dir,
        currentSecret: OLD,
        nextSecret: NEXT,
        newSecret: 'yet another secret, long enough',
      }),
    ).rejects.toMatchObject({ status: 400, issues: [{ field: 'new_secret' }] });
    expect(a.secretInForce).toBe(OLD);
    expect((await Sealer.load(dir, OLD, db)).secretInForce).toBe(OLD);
  });
});
