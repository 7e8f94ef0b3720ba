import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GatehouseError } from '../model/errors.js';
import type { Db } from './db.js';

/**
 * Secrets at rest: everything secret in the database (session signing key, TOTP secrets, OIDC client
 * secrets) is sealed with AES-256-GCM under a data key kept in a root-only file beside it, so a copy
 * of the database alone (a backup, a stolen disk image of the DB) reveals none of them.
 */
export class Sealer {
  private constructor(private readonly key: Buffer) {}

  /**
   * The data key: from a secret given in the environment (GATEHOUSE_SECRET; never stored), else
   * `<dataDir>/data.key`, created (0600) on first start.
   */
  static async load(dataDir: string, secret?: string, db?: Db): Promise<Sealer> {
    const file = join(dataDir, 'data.key');
    // A passphrase of any length becomes a 256-bit key; the salt ties it to this purpose.
    if (secret) return new Sealer(scryptSync(secret, 'gatehouse data key v1', 32)).checked(db, file, true);
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
    const row = db && (await db.selectFrom('secrets').select('value').limit(1).executeTakeFirst());
    if (!row) return this;
    try {
      this.open(row.value);
      return this;
    } catch {
      throw new GatehouseError(
        'data_key_mismatch',
        `the database's secrets were sealed with another key than ${fromSecret ? 'GATEHOUSE_SECRET' : file}: ` +
          'put back the data.key (or GATEHOUSE_SECRET) that was backed up with this database',
      );
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
  return !!(await db.selectFrom('secrets').select('name').limit(1).executeTakeFirst());
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
