import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { sql } from 'kysely';
import { GatehouseError } from '../model/errors.js';
import type { Db } from './db.js';
import { nextKeyFile, Sealer, writeDataKeyCheck } from './secrets.js';

/**
 * Secret rotation in the store: the data key (every sealed value re-sealed in one transaction) and
 * the session signing key (the previous one kept, time-bound, to verify sessions made before).
 */

/** The sealed columns, by table: what a data-key rotation re-seals (and nothing else is sealed). */
export const SEALED_COLUMNS = [
  { table: 'secrets', key: 'name', column: 'value' },
  { table: 'users', key: 'id', column: 'totp_secret' },
  { table: 'providers', key: 'name', column: 'client_secret' },
  { table: 'certificates', key: 'id', column: 'key_sealed' },
  { table: 'dns_providers', key: 'name', column: 'secret_sealed' },
  { table: 'alert_channels', key: 'name', column: 'secret_sealed' },
  // The portal's hand-over codes (a minute each): one redeemed just after a rotation still opens.
  { table: 'handovers', key: 'code_hash', column: 'token' },
] as const;

/**
 * Re-seals every sealed value from `from` to `to` inside one transaction: all or nothing. Returns
 * how many values were re-sealed.
 */
export async function resealAll(db: Db, from: Sealer, to: Sealer): Promise<number> {
  return db.transaction().execute(async (trx) => {
    let n = 0;
    for (const { table, key, column } of SEALED_COLUMNS) {
      // Table and column names from the fixed list above, as identifiers (never values).
      const { rows } = await sql<{ id: string; sealed: string | null }>`
        select ${sql.ref(key)} as id, ${sql.ref(column)} as sealed from ${sql.table(table)}`.execute(trx);
      for (const { id, sealed } of rows) {
        if (sealed === null) continue;
        const next = to.seal(from.open(sealed));
        await sql`update ${sql.table(table)} set ${sql.ref(column)} = ${next} where ${sql.ref(key)} = ${id}`.execute(
          trx,
        );
        n++;
      }
    }
    // Which key is in force, in the same transaction: replicas that did not rotate look here.
    await writeDataKeyCheck(trx, to);
    return n;
  });
}

/** Writes `data` to `path` and flushes it to disk before returning. */
async function writeSynced(path: string, data: string): Promise<void> {
  const fh = await open(path, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.chmod(0o600);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Flushes a directory (a rename in it reaches the disk). */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export interface DataKeyRotation {
  /** Sealed values re-sealed under the new key. */
  resealed: number;
  /** Where the key now comes from. */
  source: 'file' | 'secret';
}

/**
 * Rotates the data key of a running Gatehouse: re-seals every sealed value under a new key in one
 * transaction, then makes the new key the one in force (`sealer`, which every part holds).
 *
 * With a key file (no GATEHOUSE_SECRET): the new key is written (fsync) to `data.key.next` before
 * the transaction and renamed over `data.key` after it. A crash in between leaves both files; the
 * next start keeps the one that opens the database (Sealer.load) — no secret is lost.
 *
 * With GATEHOUSE_SECRET (`currentSecret` set): the new key is derived from `newSecret` (else from
 * GATEHOUSE_SECRET_NEXT, `nextSecret`), which the operator must then put in the environment in place
 * of the old one before the next start (nothing is written to disk). Other replicas learn of it
 * from the `data_key_check` row (written in the same transaction) and switch to their
 * GATEHOUSE_SECRET_NEXT if it is the one (src/replica-keys.ts).
 */
export async function rotateDataKey(
  db: Db,
  sealer: Sealer,
  opts: {
    dataDir: string;
    currentSecret?: string | undefined;
    newSecret?: string | undefined;
    nextSecret?: string | undefined;
  },
): Promise<DataKeyRotation> {
  if (opts.currentSecret !== undefined && opts.currentSecret !== '') {
    // After a rotation (here or by another replica) the secret in force is no longer the env's.
    const current = sealer.secretInForce ?? opts.currentSecret;
    const prepared = opts.nextSecret && opts.nextSecret !== current ? opts.nextSecret : undefined;
    const secret = opts.newSecret ?? prepared;
    if (!secret)
      throw new GatehouseError(
        'invalid',
        'new_secret: the data key comes from GATEHOUSE_SECRET: give the new secret ' +
          '(`gatehouse rotate data-key --new-secret-env VAR`, VAR holding it), or set GATEHOUSE_SECRET_NEXT',
        400,
        [{ field: 'new_secret', message: 'required while GATEHOUSE_SECRET is set' }],
      );
    if (secret === current)
      throw new GatehouseError('invalid', 'new_secret: is the secret in force now', 400, [
        { field: 'new_secret', message: 'is the secret in force now' },
      ]);
    if (prepared !== undefined && secret !== prepared)
      throw new GatehouseError(
        'invalid',
        'new_secret: differs from GATEHOUSE_SECRET_NEXT on this replica: replicas holding that one would ' +
          'be locked out (leave new_secret out to rotate to GATEHOUSE_SECRET_NEXT)',
        400,
        [{ field: 'new_secret', message: 'differs from GATEHOUSE_SECRET_NEXT' }],
      );
    const next = Sealer.fromSecret(secret);
    const resealed = await resealAll(db, sealer, next);
    sealer.useKey(next);
    return { resealed, source: 'secret' };
  }
  if (opts.newSecret !== undefined)
    throw new GatehouseError(
      'invalid',
      'new_secret: this Gatehouse keeps its data key in data.key, not GATEHOUSE_SECRET: leave it out',
      400,
      [{ field: 'new_secret', message: 'only when GATEHOUSE_SECRET is set' }],
    );
  const file = join(opts.dataDir, 'data.key');
  const nextFile = nextKeyFile(file);
  const key = randomBytes(32);
  const next = Sealer.fromKey(key);
  await writeSynced(nextFile, key.toString('base64') + '\n');
  let resealed: number;
  try {
    resealed = await resealAll(db, sealer, next);
  } catch (err) {
    // Nothing was committed: the database is still sealed under data.key.
    await rm(nextFile, { force: true });
    throw err;
  }
  // Committed: the new key is the one in force, in memory at once and on disk by the rename.
  sealer.useKey(next);
  await rename(nextFile, file);
  await syncDir(dirname(file));
  return { resealed, source: 'file' };
}

/** The secret names of the session signing key and the one it replaced. */
export const SESSION_KEY = 'session-key';
export const SESSION_KEY_PREVIOUS = 'session-key-previous';

/** The previous session key and until when it still verifies sessions (ms since the epoch). */
export interface PreviousKey {
  key: string;
  until: number;
}

/** The previous session key if one is stored and still in its grace period. */
export async function previousSessionKey(db: Db, sealer: Sealer): Promise<PreviousKey | undefined> {
  const row = await db
    .selectFrom('secrets')
    .select('value')
    .where('name', '=', SESSION_KEY_PREVIOUS)
    .executeTakeFirst();
  if (!row) return undefined;
  try {
    const p = JSON.parse(sealer.open(row.value)) as Partial<PreviousKey>;
    if (typeof p.key !== 'string' || typeof p.until !== 'number' || p.until <= Date.now()) return undefined;
    return { key: p.key, until: p.until };
  } catch {
    return undefined;
  }
}

/**
 * A new session signing key, in one transaction: the current one becomes the previous one, valid
 * for `graceMs` more (the longest a session made now lives), and a new random key replaces it.
 */
export async function rotateSessionKey(
  db: Db,
  sealer: Sealer,
  graceMs: number,
): Promise<{ key: string; previous: PreviousKey }> {
  const key = randomBytes(32).toString('base64url');
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .selectFrom('secrets')
      .select('value')
      .where('name', '=', SESSION_KEY)
      .executeTakeFirst();
    if (!row) throw new GatehouseError('no_session_key', 'there is no session key yet to rotate', 409);
    const previous = { key: sealer.open(row.value), until: Date.now() + graceMs };
    const at = new Date().toISOString();
    await trx
      .updateTable('secrets')
      .set({ value: sealer.seal(key), created_at: at })
      .where('name', '=', SESSION_KEY)
      .execute();
    const prev = sealer.seal(JSON.stringify(previous));
    await trx
      .insertInto('secrets')
      .values({ name: SESSION_KEY_PREVIOUS, value: prev, created_at: at })
      .onConflict((oc) => oc.column('name').doUpdateSet({ value: prev, created_at: at }))
      .execute();
    return { key, previous };
  });
}
