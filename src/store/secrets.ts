import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GatehouseError } from '../model/errors.js';
import type { Db } from './db.js';

/**
 * Secrets at rest: everything secret in the database (session signing key, TOTP secrets, OIDC client
 * secrets) is sealed with AES-256-GCM under a data key kept in a root-only file beside it, so a copy
 * of the database alone (a backup, a stolen disk image of the DB) reveals none of them.
 */
export class Sealer {
  /** The GATEHOUSE_SECRET (or GATEHOUSE_SECRET_NEXT) the key derives from; undefined for data.key. */
  private secret: string | undefined;
  /** Another replica rotated the data key and none of this one's secrets opens it (see follow()). */
  private rotatedAway = false;

  private constructor(
    private key: Buffer,
    secret?: string,
  ) {
    this.secret = secret;
  }

  /** A sealer over a raw 32-byte key (data-key rotation seals with the next one). */
  static fromKey(key: Buffer): Sealer {
    return new Sealer(key);
  }

  /** A sealer over the key a GATEHOUSE_SECRET passphrase stands for (it remembers the secret). */
  static fromSecret(secret: string): Sealer {
    return new Sealer(Sealer.keyOfSecret(secret), secret);
  }

  /** The 256-bit key a GATEHOUSE_SECRET passphrase stands for. */
  static keyOfSecret(secret: string): Buffer {
    // A passphrase of any length becomes a 256-bit key; the salt ties it to this purpose.
    return scryptSync(secret, 'gatehouse data key v1', 32);
  }

  /** The secret the key in force derives from (undefined: a data.key file, or a raw key). */
  get secretInForce(): string | undefined {
    return this.secret;
  }

  /** True while the store is sealed under a key this replica does not have (it seals nothing then). */
  get rotated(): boolean {
    return this.rotatedAway;
  }

  /**
   * From now on seals and opens with `next` (after data-key rotation re-sealed everything under it).
   * Every part holds this one Sealer, so the running process switches at once.
   */
  useKey(next: Sealer): void {
    this.key = next.key;
    this.secret = next.secret;
    this.rotatedAway = false;
  }

  /**
   * The data key: from a secret given in the environment (GATEHOUSE_SECRET; never stored), else
   * `<dataDir>/data.key`, created (0600) on first start. With GATEHOUSE_SECRET_NEXT (`secretNext`)
   * too, the one of the two that opens the store is used (another replica may have rotated to it).
   */
  static async load(dataDir: string, secret?: string, db?: Db, secretNext?: string): Promise<Sealer> {
    const file = join(dataDir, 'data.key');
    if (secret) {
      const first = Sealer.fromSecret(secret);
      if (!db) return first;
      for (const s of [secret, secretNext]) {
        if (!s) continue;
        const candidate = s === secret ? first : Sealer.fromSecret(s);
        if (await candidate.opens(db)) return candidate;
      }
      throw new GatehouseError(
        'data_key_mismatch',
        `the database's secrets were sealed with another key than GATEHOUSE_SECRET${secretNext ? ' or GATEHOUSE_SECRET_NEXT' : ''}: ` +
          'start with the GATEHOUSE_SECRET the data key was last rotated to (or the one backed up with this database)',
      );
    }
    // A data-key rotation interrupted between its commit and its rename: see settleNextKey.
    if (db) await settleNextKey(file, db);
    let sealer: Sealer;
    try {
      const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
      if (key.length !== 32) throw new Error(`${file}: not a 32-byte key`);
      sealer = new Sealer(key);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // A database restored without its key: making a new one would seal new secrets beside old
      // ones nobody can open, and the message would be an AES error. Say what is missing instead.
      if (db && (await anySealed(db)))
        throw new GatehouseError(
          'data_key_missing',
          `${file} is missing, and the database holds secrets sealed with it: put back the data.key that was ` +
            'backed up with this database (or start with the GATEHOUSE_SECRET it was started with)',
        );
      const key = randomBytes(32);
      // wx: two starts racing never overwrite each other's key.
      await writeFile(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
      return new Sealer(key);
    }
    return sealer.checked(db, file);
  }

  /** Refuses a key that does not open what the database holds (a data.key from another machine). */
  private async checked(db: Db | undefined, file: string): Promise<Sealer> {
    if (!db || (await this.opens(db))) return this;
    throw new GatehouseError(
      'data_key_mismatch',
      `the database's secrets were sealed with another key than ${file}: ` +
        'put back the data.key (or GATEHOUSE_SECRET) that was backed up with this database',
    );
  }

  /**
   * Whether this key opens what the database holds (true when it holds nothing sealed): the
   * `data_key_check` meta row (re-sealed with every rotation, in its transaction), else one sealed
   * value. A check row this key does not open while the sealed values do open is an outdated one
   * (a store copied before the row existed, say): the values are the truth.
   */
  async opens(db: Db): Promise<boolean> {
    const check = await readDataKeyCheck(db);
    if (check !== undefined && this.opensValue(check)) return true;
    const sample = await sealedSample(db);
    if (sample === undefined) return check === undefined;
    return this.opensValue(sample);
  }

  /**
   * Among replicas sharing GATEHOUSE_SECRET: after another replica rotated the data key (or on
   * reconnect), checks which of this replica's secrets (GATEHOUSE_SECRET, GATEHOUSE_SECRET_NEXT)
   * opens the store and switches to it. When none does, nothing is sealed or opened any more
   * (`data_key_rotated`, 503) until a restart with the new secret: a stale key never seals.
   */
  async follow(db: Db, secrets: (string | undefined)[]): Promise<'current' | 'switched' | 'rotated'> {
    if (await this.opens(db)) {
      const was = this.rotatedAway;
      this.rotatedAway = false;
      return was ? 'switched' : 'current';
    }
    for (const s of secrets) {
      if (!s || s === this.secret) continue;
      const candidate = Sealer.fromSecret(s);
      if (await candidate.opens(db)) {
        this.useKey(candidate);
        return 'switched';
      }
    }
    this.rotatedAway = true;
    return 'rotated';
  }

  seal(plain: string): string {
    if (this.rotatedAway) throw dataKeyRotated();
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `v1:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  open(sealed: string): string {
    if (this.rotatedAway) throw dataKeyRotated();
    return this.openWithKey(sealed);
  }

  private openWithKey(sealed: string): string {
    if (!sealed.startsWith('v1:')) throw new Error('unknown sealed format');
    const raw = Buffer.from(sealed.slice(3), 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }

  private opensValue(sealed: string): boolean {
    try {
      this.openWithKey(sealed);
      return true;
    } catch {
      return false;
    }
  }
}

/** The meta row that says which data key is in force: a fixed text sealed with it. */
export const DATA_KEY_CHECK = 'data_key_check';
const DATA_KEY_CHECK_TEXT = 'gatehouse data key check v1';

async function readDataKeyCheck(db: Db): Promise<string | undefined> {
  const row = await db
    .selectFrom('meta')
    .select('value')
    .where('key', '=', DATA_KEY_CHECK)
    .executeTakeFirst();
  return row?.value;
}

/** Writes the check row for `sealer` (inside the transaction that re-seals everything under it). */
export async function writeDataKeyCheck(db: Db, sealer: Sealer): Promise<void> {
  const value = sealer.seal(DATA_KEY_CHECK_TEXT);
  await db
    .insertInto('meta')
    .values({ key: DATA_KEY_CHECK, value })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
    .execute();
}

/** What a replica whose secrets no longer open the store answers to anything needing the data key. */
export function dataKeyRotated(): GatehouseError {
  return new GatehouseError(
    'data_key_rotated',
    'the data key was rotated: restart this replica with the new GATEHOUSE_SECRET',
    503,
  );
}

async function anySealed(db: Db): Promise<boolean> {
  return (await sealedSample(db)) !== undefined;
}

/** One sealed value from the database (the secrets table first), or undefined when none is stored. */
async function sealedSample(db: Db): Promise<string | undefined> {
  const secret = await db.selectFrom('secrets').select('value').limit(1).executeTakeFirst();
  if (secret) return secret.value;
  const totp = await db
    .selectFrom('users')
    .select('totp_secret')
    .where('totp_secret', 'is not', null)
    .limit(1)
    .executeTakeFirst();
  if (totp?.totp_secret) return totp.totp_secret;
  const oidc = await db.selectFrom('providers').select('client_secret').limit(1).executeTakeFirst();
  if (oidc) return oidc.client_secret;
  const cert = await db.selectFrom('certificates').select('key_sealed').limit(1).executeTakeFirst();
  if (cert) return cert.key_sealed;
  const dns = await db.selectFrom('dns_providers').select('secret_sealed').limit(1).executeTakeFirst();
  return dns?.secret_sealed;
}

/** Where data-key rotation writes the next key before re-sealing under it (store/rotate.ts). */
export const nextKeyFile = (keyFile: string): string => `${keyFile}.next`;

/**
 * A `data.key.next` left by a data-key rotation that stopped half-way. Before its commit the
 * database is still sealed under data.key: the next key is dropped. After its commit (the rename
 * did not happen) only the next key opens the database: it becomes data.key. Either way no secret
 * is lost, and the next start sees a plain data.key.
 */
async function settleNextKey(file: string, db: Db): Promise<void> {
  const next = nextKeyFile(file);
  let raw: string;
  try {
    raw = await readFile(next, 'utf8');
  } catch {
    return;
  }
  const key = Buffer.from(raw.trim(), 'base64');
  const current = await readFile(file, 'utf8').then(
    (t) => Buffer.from(t.trim(), 'base64'),
    () => undefined,
  );
  const opensWith = async (k: Buffer | undefined) => k?.length === 32 && (await Sealer.fromKey(k).opens(db));
  if ((await opensWith(current)) || !(await opensWith(key))) {
    await rm(next, { force: true });
    return;
  }
  await rename(next, file);
}

/** A generated secret by name: created (random, sealed) on first use, the same ever after. */
export function generatedSecret(db: Db, sealer: Sealer, name: string): Promise<string> {
  return generatedSecretWith(db, sealer, name, async () => randomBytes(32).toString('base64url'));
}

/** Like generatedSecret, with the value made by `make` (a key pair, say). */
export async function generatedSecretWith(
  db: Db,
  sealer: Sealer,
  name: string,
  make: () => Promise<string>,
): Promise<string> {
  const row = await db.selectFrom('secrets').select('value').where('name', '=', name).executeTakeFirst();
  if (row) return sealer.open(row.value);
  const value = await make();
  await db
    .insertInto('secrets')
    .values({ name, value: sealer.seal(value), created_at: new Date().toISOString() })
    .onConflict((oc) => oc.doNothing())
    .execute();
  // Another start may have won the race: the stored one is the truth.
  const stored = await db
    .selectFrom('secrets')
    .select('value')
    .where('name', '=', name)
    .executeTakeFirstOrThrow();
  return sealer.open(stored.value);
}
