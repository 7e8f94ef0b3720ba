import { fromZod } from '../model/errors.js';
import { serviceSchema, type ServiceRecord, type Source } from '../model/service.js';
import type { Db } from '../store/db.js';

/** Who is writing, and why: recorded on every version. */
export interface WriteMeta {
  actor: string;
  source: Source;
  /** See ServiceMeta.owner: what within the source writes (a container, a file, an agent). */
  owner?: string;
  reason?: string;
  /** Allow a change that leaves no route at all. */
  force?: boolean;
  /** Check the change against the whole state, report what it would change, write nothing. */
  dryRun?: boolean;
}

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

/**
 * The stored records and the latest version, as the registry starts. A record a newer Gatehouse no
 * longer accepts (rules only ever get stricter) is set aside, not fatal: everything else keeps
 * serving, and `unloadable` says what needs fixing.
 */
export async function loadRecords(db: Db): Promise<{
  records: Map<string, ServiceRecord>;
  unloadable: { name: string; error: string }[];
  version: number;
}> {
  const records = new Map<string, ServiceRecord>();
  const unloadable: { name: string; error: string }[] = [];
  const rows = await db.selectFrom('services').selectAll().orderBy('name').execute();
  for (const row of rows) {
    let spec: unknown;
    try {
      spec = JSON.parse(row.spec);
    } catch {
      spec = undefined;
    }
    const parsed = serviceSchema.safeParse(spec);
    if (!parsed.success) {
      unloadable.push({ name: row.name, error: fromZod(parsed.error).message });
      continue;
    }
    records.set(row.name, {
      service: parsed.data,
      meta: {
        source: row.source as Source,
        ...(row.owner ? { owner: row.owner } : {}),
        created_at: row.created_at,
        updated_at: row.updated_at,
      },
    });
  }
  const v = await db
    .selectFrom('versions')
    .select((eb) => eb.fn.max('version').as('v'))
    .executeTakeFirst();
  return { records, unloadable, version: Number(v?.v ?? 0) };
}
