import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { checkpointerOf, openSqlite, type Db } from '../../src/store/db.js';
import { testDir } from '../helpers/tmp.js';

const tasks = () => readdirSync('/proc/self/task').length;

/**
 * The registry's WAL checkpoints run in a thread that lives only while there is work
 * (src/store/checkpoint.ts): a write starts it, and once the WAL is copied and quiet it ends.
 */
describe('the checkpoint thread', () => {
  const open: Db[] = [];
  afterEach(async () => {
    for (const db of open.splice(0)) await db.destroy();
  });

  it('starts on a write, copies the WAL, and ends when the database rests', async () => {
    const dir = await testDir('gh-checkpoint-');
    const file = join(dir, 'gatehouse.db');
    const db = await openSqlite(file, { checkpointMs: 20, checkpointIdleMs: 300 });
    open.push(db);
    const cp = checkpointerOf(db);
    if (!cp) throw new Error('a database file has a checkpointer');
    // Opened (and migrated): it copies what is there, then rests.
    await expect.poll(() => cp.running, { timeout: 10_000 }).toBe(false);
    const resting = tasks();
    const passes = cp.stats.passes;
    await sql`create table t (x integer)`.execute(db);
    for (let i = 0; i < 50; i++) await sql`insert into t values (${i})`.execute(db);
    await expect.poll(() => cp.running, { timeout: 5000 }).toBe(true);
    // The writes are copied into the database file, and the thread ends after it.
    await expect.poll(() => cp.running, { timeout: 10_000 }).toBe(false);
    expect(cp.stats.passes).toBeGreaterThan(passes);
    expect(cp.stats.last?.checkpointed).toBe(cp.stats.last?.log);
    // Its OS thread is gone too (no more threads than when it rested before).
    await expect.poll(tasks, { timeout: 5000 }).toBeLessThanOrEqual(resting);
    expect(statSync(file).size).toBeGreaterThan(0);
    // Asked for a checkpoint while it rests, it starts and answers.
    const now = await cp.now();
    expect(now.checkpointed).toBe(now.log);
  });
});
