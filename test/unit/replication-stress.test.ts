import { afterAll, expect, it } from 'vitest';
import { Registry, type WriteMeta } from '../../src/registry/registry.js';
import { Replication } from '../../src/registry/replication.js';
import { openDatabase } from '../../src/store/open.js';
import { silentLogger } from '../../src/observe/log.js';
import { sharedPostgres, stopSharedPostgres } from '../helpers/postgres.js';

const api: WriteMeta = { actor: 'admin', source: 'api' };
afterAll(stopSharedPostgres);

/**
 * Replicas that keep writing, each write arriving at its own moment: a replica refused because
 * another wrote first holds the write lock from its catch-up to its next batch, so no write is
 * refused over and over (without that, 48 of these 600 ran out of retries).
 */
it('three registries writing without pause: every write lands, versions 1..600, the same state', async () => {
  const url = await (await sharedPostgres()).createDatabase();
  const dbs = await Promise.all([1, 2, 3].map(() => openDatabase(url)));
  const regs = await Promise.all(dbs.map((db) => Registry.open(db, new Map([[80, 'HTTP']]))));
  const repls = regs.map((r) => new Replication(url, r, silentLogger()));
  for (const x of repls) await x.start();
  try {
    const t0 = performance.now();
    const fails: string[] = [];
    await Promise.all(
      regs.flatMap((r, k) =>
        Array.from({ length: 8 }, async (_, w) => {
          for (let i = 0; i < 25; i++) {
            await new Promise((res) => setTimeout(res, Math.random() * 4));
            const name = `s${k}-${w}-${i}`;
            const svc = {
              name,
              hosts: [`${name}.test`],
              routes: [{ path: '/', upstreams: ['10.0.0.1:80'] }],
            };
            await r.put(svc, api).catch((e: unknown) => fails.push(String(e)));
          }
        }),
      ),
    );
    const stats = regs.map((r) => r.commitStats);
    console.log(
      `replication: 600 writes on 3 registries in ${(performance.now() - t0).toFixed(0)} ms;` +
        ` batches ${stats.map((s) => `${s.batches} written, ${s.refused} refused`).join(' / ')}`,
    );
    expect(fails).toEqual([]);
    const rows = await dbs[0]!.selectFrom('versions').select('version').orderBy('version').execute();
    expect(rows.map((r) => r.version)).toEqual(Array.from({ length: 600 }, (_, i) => i + 1));
    for (const r of regs) await r.catchUp();
    const states = regs.map((r) => JSON.stringify(r.list()));
    expect(regs.map((r) => r.version)).toEqual([600, 600, 600]);
    expect(states[1]).toBe(states[0]);
    expect(states[2]).toBe(states[0]);
  } finally {
    for (const x of repls) await x.stop();
    for (const db of dbs) await db.destroy();
  }
}, 120_000);
