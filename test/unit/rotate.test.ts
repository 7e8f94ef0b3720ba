import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SessionCodec, sessionClaims } from '../../src/model/session.js';
import type { Db } from '../../src/store/db.js';
import {
  previousSessionKey,
  resealAll,
  rotateDataKey,
  rotateSessionKey,
  SEALED_COLUMNS,
} from '../../src/store/rotate.js';
import { generatedSecret, nextKeyFile, Sealer } from '../../src/store/secrets.js';
import { openTestDb, STORES, stopSharedPostgres } from '../helpers/postgres.js';

afterAll(stopSharedPostgres);

const now = () => new Date().toISOString();

/** One sealed value in every sealed column, each opening to its own plain text. */
async function sealEverything(db: Db, sealer: Sealer): Promise<Record<string, string>> {
  await generatedSecret(db, sealer, 'session-key');
  await db
    .insertInto('users')
    .values({
      id: 'u1',
      username: 'bob',
      email: '',
      name: '',
      first_name: '',
      last_name: '',
      role: 'user',
      password_hash: null,
      totp_secret: sealer.seal('totp plain'),
      recovery_codes: '[]',
      totp_last_step: 0,
      managed_by: '',
      disabled: 0,
      created_at: now(),
      updated_at: now(),
    })
    .execute();
  await db
    .insertInto('providers')
    .values({
      name: 'corp',
      label: 'Corp',
      issuer: 'https://id.example.com',
      client_id: 'gh',
      client_secret: sealer.seal('oidc plain'),
      scopes: 'openid',
      groups_claim: 'groups',
      username_claim: 'preferred_username',
      group_map: '{}',
      groups_passthrough: 0,
      created_at: now(),
    })
    .execute();
  await db
    .insertInto('certificates')
    .values({
      id: 'c1',
      names: '["a.test"]',
      source: 'manual',
      fingerprint: 'f',
      not_before: now(),
      not_after: now(),
      cert_pem: 'PEM',
      key_sealed: sealer.seal('key plain'),
      created_at: now(),
    })
    .execute();
  await db
    .insertInto('dns_providers')
    .values({
      name: 'zone',
      type: 'rfc2136',
      zone: 'a.test',
      config: '{}',
      secret_sealed: sealer.seal('dns plain'),
      created_at: now(),
    })
    .execute();
  await db
    .insertInto('alert_channels')
    .values({
      name: 'ops',
      type: 'webhook',
      config: '{}',
      secret_sealed: sealer.seal('alert plain'),
      created_at: now(),
    })
    .execute();
  return {
    totp: 'totp plain',
    oidc: 'oidc plain',
    cert: 'key plain',
    dns: 'dns plain',
    alert: 'alert plain',
  };
}

/** Every sealed value opened with `sealer` (throws if one does not open). */
async function openEverything(db: Db, sealer: Sealer): Promise<Record<string, string>> {
  const u = await db.selectFrom('users').select('totp_secret').executeTakeFirstOrThrow();
  const p = await db.selectFrom('providers').select('client_secret').executeTakeFirstOrThrow();
  const c = await db.selectFrom('certificates').select('key_sealed').executeTakeFirstOrThrow();
  const d = await db.selectFrom('dns_providers').select('secret_sealed').executeTakeFirstOrThrow();
  const a = await db.selectFrom('alert_channels').select('secret_sealed').executeTakeFirstOrThrow();
  for (const s of await db.selectFrom('secrets').select('value').execute()) sealer.open(s.value);
  return {
    totp: sealer.open(u.totp_secret as string),
    oidc: sealer.open(p.client_secret),
    cert: sealer.open(c.key_sealed),
    dns: sealer.open(d.secret_sealed),
    alert: sealer.open(a.secret_sealed),
  };
}

describe.each(STORES)('data-key rotation (%s)', (kind) => {
  let dir: string;
  let db: Db;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gh-rotate-'));
    db = await openTestDb(kind);
  });
  afterEach(async () => {
    await db.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it('re-seals every sealed column under a new data.key; the running sealer and a new start open them', async () => {
    expect(SEALED_COLUMNS.map((c) => c.table)).toEqual([
      'secrets',
      'users',
      'providers',
      'certificates',
      'dns_providers',
      'alert_channels',
      'handovers',
    ]);
    const sealer = await Sealer.load(dir, undefined, db);
    const plain = await sealEverything(db, sealer);
    const oldKey = await readFile(join(dir, 'data.key'), 'utf8');
    const old = Sealer.fromKey(Buffer.from(oldKey.trim(), 'base64'));
    const r = await rotateDataKey(db, sealer, { dataDir: dir });
    expect(r).toEqual({ resealed: 6, source: 'file' });
    expect(await readFile(join(dir, 'data.key'), 'utf8')).not.toBe(oldKey);
    expect((await stat(join(dir, 'data.key'))).mode & 0o777).toBe(0o600);
    expect(existsSync(nextKeyFile(join(dir, 'data.key')))).toBe(false);
    expect(await openEverything(db, sealer)).toEqual(plain);
    expect(await openEverything(db, await Sealer.load(dir, undefined, db))).toEqual(plain);
    await expect(openEverything(db, old)).rejects.toThrow();
  });

  it('all or nothing: a value that does not open stops it, and nothing changed', async () => {
    const sealer = await Sealer.load(dir, undefined, db);
    const plain = await sealEverything(db, sealer);
    const oldKey = await readFile(join(dir, 'data.key'), 'utf8');
    // A value sealed under some other key, last in the order: the earlier updates roll back.
    await db
      .updateTable('dns_providers')
      .set({ secret_sealed: Sealer.fromKey(Buffer.alloc(32, 9)).seal('x') })
      .execute();
    await expect(rotateDataKey(db, sealer, { dataDir: dir })).rejects.toThrow();
    expect(await readFile(join(dir, 'data.key'), 'utf8')).toBe(oldKey);
    expect(existsSync(nextKeyFile(join(dir, 'data.key')))).toBe(false);
    const u = await db.selectFrom('users').select('totp_secret').executeTakeFirstOrThrow();
    expect(sealer.open(u.totp_secret as string)).toBe(plain.totp);
  });

  it('a crash before the commit: the start keeps data.key and drops data.key.next', async () => {
    const sealer = await Sealer.load(dir, undefined, db);
    const plain = await sealEverything(db, sealer);
    const file = join(dir, 'data.key');
    const oldKey = await readFile(file, 'utf8');
    await writeFile(nextKeyFile(file), Buffer.alloc(32, 3).toString('base64') + '\n', { mode: 0o600 });
    const started = await Sealer.load(dir, undefined, db);
    expect(await readFile(file, 'utf8')).toBe(oldKey);
    expect(existsSync(nextKeyFile(file))).toBe(false);
    expect(await openEverything(db, started)).toEqual(plain);
  });

  it('a crash between the commit and the rename: the start takes data.key.next, no secret lost', async () => {
    const sealer = await Sealer.load(dir, undefined, db);
    const plain = await sealEverything(db, sealer);
    const file = join(dir, 'data.key');
    const next = Buffer.alloc(32, 5);
    await writeFile(nextKeyFile(file), next.toString('base64') + '\n', { mode: 0o600 });
    await resealAll(db, sealer, Sealer.fromKey(next));
    const started = await Sealer.load(dir, undefined, db);
    expect((await readFile(file, 'utf8')).trim()).toBe(next.toString('base64'));
    expect(existsSync(nextKeyFile(file))).toBe(false);
    expect(await openEverything(db, started)).toEqual(plain);
  });

  it('with GATEHOUSE_SECRET: needs the new secret (named new_secret), then only it opens the store', async () => {
    const secret = 'the first secret, long enough';
    const sealer = await Sealer.load(dir, secret, db);
    const plain = await sealEverything(db, sealer);
    await expect(rotateDataKey(db, sealer, { dataDir: dir, currentSecret: secret })).rejects.toMatchObject({
      status: 400,
      issues: [{ field: 'new_secret' }],
      message: expect.stringContaining('--new-secret-env'),
    });
    await expect(
      rotateDataKey(db, sealer, { dataDir: dir, currentSecret: secret, newSecret: secret }),
    ).rejects.toMatchObject({ issues: [{ field: 'new_secret' }] });
    const next = 'the second secret, long enough';
    const r = await rotateDataKey(db, sealer, { dataDir: dir, currentSecret: secret, newSecret: next });
    expect(r).toEqual({ resealed: 6, source: 'secret' });
    expect(existsSync(join(dir, 'data.key'))).toBe(false);
    expect(await openEverything(db, sealer)).toEqual(plain);
    expect(await openEverything(db, await Sealer.load(dir, next, db))).toEqual(plain);
    await expect(Sealer.load(dir, secret, db)).rejects.toMatchObject({ code: 'data_key_mismatch' });
  });
});

describe.each(STORES)('session-key rotation (%s)', (kind) => {
  it('signs with the new key; the previous one verifies until its time is up', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gh-rotate-'));
    const db = await openTestDb(kind);
    try {
      const sealer = await Sealer.load(dir, undefined, db);
      const oldKey = await generatedSecret(db, sealer, 'session-key');
      const who = {
        uid: 'u1',
        username: 'bob',
        email: '',
        name: '',
        first_name: '',
        last_name: '',
        groups: [],
      };
      const claims = sessionClaims(who, 's1', Date.now(), Date.now() + 60_000, 'a.test', 'password');
      const codec = new SessionCodec(oldKey);
      const oldToken = codec.sign(claims);

      const { key, previous } = await rotateSessionKey(db, sealer, 60_000);
      expect(key).not.toBe(oldKey);
      expect(previous.key).toBe(oldKey);
      expect(await generatedSecret(db, sealer, 'session-key')).toBe(key);
      expect(await previousSessionKey(db, sealer)).toEqual(previous);

      codec.use(key, previous);
      expect(codec.verify(oldToken)?.s).toBe('s1');
      const newToken = codec.sign(claims);
      expect(newToken).not.toBe(oldToken);
      expect(new SessionCodec(key).verify(newToken)?.s).toBe('s1');
      expect(new SessionCodec(oldKey).verify(newToken)).toBeUndefined();
      // Its time up: the previous key verifies nothing, and a start does not load it.
      codec.use(key, { ...previous, until: Date.now() - 1 });
      expect(codec.verify(oldToken)).toBeUndefined();
      expect(codec.verify(newToken)?.s).toBe('s1');
      await rotateSessionKey(db, sealer, -1);
      expect(await previousSessionKey(db, sealer)).toBeUndefined();
    } finally {
      await db.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
