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
  private constructor(private key: Buffer) {}

  /** A sealer over a raw 32-byte key (data-key rotation seals with the next one). */
  static fromKey(key: Buffer): Sealer {
    return new Sealer(key);
  }

  /** The 256-bit key a GATEHOUSE_SECRET passphrase stands for. */
  static keyOfSecret(secret: string): Buffer {
    // A passphrase of any length becomes a 256-bit key; the salt ties it to this purpose.
    return scryptSync(secret, 'gatehouse data key v1', 32);
  }

  /**
   * From now on seals and opens with `next` (after data-key rotation re-sealed everything under it).
   * Every part holds this one Sealer, so the running process switches at once.
   */
  useKey(next: Sealer): void {
    this.key = next.key;
  }

  /**
   * The data key: from a secret given in the environment (GATEHOUSE_SECRET; never stored), else
   * `<dataDir>/data.key`, created (0600) on first start.
   */
  static async load(dataDir: string, secret?: string, db?: Db): Promise<Sealer> {
    const file = join(dataDir, 'data.key');
    if (secret) return new Sealer(Sealer.keyOfSecret(secret)).checked(db, file, true);
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
    return sealer.checked(db, file, false);
  }

  /** Refuses a key that does not open what the database holds (a data.key from another machine). */
  private async checked(db: Db | undefined, file: string, fromSecret: boolean): Promise<Sealer> {
    if (!db || (await this.opens(db))) return this;
    throw new GatehouseError(
      'data_key_mismatch',
      `the database's secrets were sealed with another key than ${fromSecret ? 'GATEHOUSE_SECRET' : file}: ` +
        'put back the data.key (or GATEHOUSE_SECRET) that was backed up with this database',
    );
  }

  /** Whether this key opens a sealed value the database holds (true when it holds none). */
  async opens(db: Db): Promise<boolean> {
    const sample = await sealedSample(db);
    if (sample === undefined) return true;
    try {
      this.open(sample);
      return true;
    } catch {
      return false;
    }
  }

  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `v1:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  open(sealed: string): string {
    if (!sealed.startsWith('v1:')) throw new Error('unknown sealed format');
    const raw = Buffer.from(sealed.slice(3), 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }
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
