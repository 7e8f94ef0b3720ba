import { randomBytes } from 'node:crypto';
import type { Db } from './db.js';

/** The meta row holding this installation's id. */
export const INSTANCE_ID_KEY = 'instance_id';

/**
 * A stable id of this installation (every replica of one store shares it; a backup carries it):
 * made once, on first use, and kept in `meta`. External DNS records are marked with it as theirs.
 */
export async function installationId(db: Db): Promise<string> {
  const fresh = `gh-${randomBytes(8).toString('hex')}`;
  // Two replicas asking at once: the first insert wins, both read it back.
  await db
    .insertInto('meta')
    .values({ key: INSTANCE_ID_KEY, value: fresh })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  const row = await db
    .selectFrom('meta')
    .select('value')
    .where('key', '=', INSTANCE_ID_KEY)
    .executeTakeFirstOrThrow();
  return row.value;
}
