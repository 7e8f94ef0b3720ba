import type { Kysely } from 'kysely';
import type { CertRef } from '../model/tls.js';
import { loadRecords } from '../registry/persist.js';
import type { Database, Db } from '../store/db.js';
import { compile } from './compile.js';

/**
 * The certificates compile would use at `now` (as CertStore.inventory picks them: valid, or valid
 * within the hour).
 */
async function certRefs(db: Kysely<Database>, now: number): Promise<CertRef[]> {
  const rows = await db
    .selectFrom('certificates')
    .select(['id', 'fingerprint', 'names', 'not_after', 'not_before', 'created_at'])
    .where('not_after', '>', new Date(now).toISOString())
    .where('not_before', '<=', new Date(now + 3_600_000).toISOString())
    .execute();
  return rows.map((r) => ({
    id: r.id,
    fingerprint: r.fingerprint,
    names: JSON.parse(r.names) as string[],
    notAfter: r.not_after,
    notBefore: r.not_before,
    createdAt: r.created_at,
  }));
}

/**
 * The hash of the config a Gatehouse on this store compiles (its services and valid certificates,
 * on fixed listeners): equal on two stores when they serve the same. Services the registry would set
 * aside (unloadable) are counted in `unloadable`.
 */
export async function storeConfigHash(
  db: Kysely<Database>,
  now = Date.now(),
): Promise<{ hash: string; services: number; unloadable: number }> {
  const { records, unloadable } = await loadRecords(db as Db);
  const config = compile({
    services: [...records.values()].map((r) => r.service),
    listeners: { http: 80, https: 443 },
    certs: await certRefs(db, now),
  });
  return { hash: config.hash, services: records.size, unloadable: unloadable.length };
}
