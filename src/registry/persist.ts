import type { ServiceRecord } from '../model/service.js';
import type { Db } from '../store/db.js';
import type { WriteMeta } from './registry.js';

/**
 * Writes one version in one transaction: its row, each record's before and after (what snapshots,
 * diffs and rollbacks are built from), and the records themselves.
 */
export async function persistVersion(
  db: Db,
  version: number,
  changes: [string, ServiceRecord | undefined][],
  current: ReadonlyMap<string, ServiceRecord>,
  meta: WriteMeta,
): Promise<void> {
  const at = new Date().toISOString();
  await db.transaction().execute(async (tx) => {
    await tx
      .insertInto('versions')
      .values({
        version,
        at,
        actor: meta.actor,
        source: meta.source,
        reason: meta.reason ?? describe(changes),
      })
      .execute();
    for (const [name, rec] of changes) {
      const before = current.get(name);
      await tx
        .insertInto('changes')
        .values({
          version,
          name,
          before: before ? JSON.stringify(before) : null,
          after: rec ? JSON.stringify(rec) : null,
        })
        .execute();
      if (rec) {
        const row = {
          name,
          source: rec.meta.source,
          owner: rec.meta.owner ?? '',
          spec: JSON.stringify(rec.service),
          created_at: rec.meta.created_at,
          updated_at: rec.meta.updated_at,
        };
        await tx
          .insertInto('services')
          .values(row)
          .onConflict((oc) => oc.column('name').doUpdateSet(row))
          .execute();
      } else {
        await tx.deleteFrom('services').where('name', '=', name).execute();
      }
    }
  });
}

function describe(changes: [string, ServiceRecord | undefined][]): string {
  const parts = changes.slice(0, 5).map(([n, r]) => `${r ? 'put' : 'delete'} ${n}`);
  return parts.join(', ') + (changes.length > 5 ? ` and ${changes.length - 5} more` : '');
}
