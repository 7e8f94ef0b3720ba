import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GatehouseError } from '../../src/model/errors.js';
import { Registry, type WriteMeta } from '../../src/registry/registry.js';
import { Replication } from '../../src/registry/replication.js';
import { pruneVersions } from '../../src/registry/snapshots.js';
import { type Db } from '../../src/store/db.js';
import { openDatabase } from '../../src/store/open.js';
import { silentLogger } from '../../src/observe/log.js';
import { sharedPostgres, stopSharedPostgres } from '../helpers/postgres.js';

const api: WriteMeta = { actor: 'admin', source: 'api' };
const reserved = new Map([[80, 'HTTP']]);
const web = (name: string, host = `${name}.test`) => ({
  name,
  hosts: [host],
  routes: [{ path: '/', upstreams: ['10.0.0.1:80'] }],
});

async function until(ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function versions(db: Db): Promise<number[]> {
  const rows = await db.selectFrom('versions').select('version').orderBy('version').execute();
  return rows.map((r) => r.version);
}

// The cluster's start (initdb) is the first hook's on a busy machine: given its own, longer limit.
beforeAll(() => sharedPostgres().then(() => undefined), 120_000);
afterAll(stopSharedPostgres, 60_000);

describe('two registries on one PostgreSQL', () => {
  let url: string;
  let dbA: Db;
  let dbB: Db;
  let a: Registry;
  let b: Registry;
  beforeEach(async () => {
    url = await (await sharedPostgres()).createDatabase();
    dbA = await openDatabase(url);
    dbB = await openDatabase(url);
    a = await Registry.open(dbA, reserved);
    b = await Registry.open(dbB, reserved);
  });
  afterEach(async () => {
    await dbA.destroy();
    await dbB.destroy();
  });

  it('a write on a registry behind the store catches up first, then is checked and numbered after', async () => {
    expect((await a.put(web('one'), api)).version).toBe(1);
    // b has not heard of version 1: its batch is stale, it catches up and runs the write again.
    const seen: number[] = [];
    b.onChange((e) => seen.push(e.version));
    expect((await b.put(web('two'), api)).version).toBe(2);
    expect(b.list().map((r) => r.service.name)).toEqual(['one', 'two']);
    expect(seen).toEqual([1, 2]);
    expect(await versions(dbA)).toEqual([1, 2]);
  });

  it('a write that shares nothing with what another registry stored meanwhile is numbered after it, not refused', async () => {
    await a.put(web('one'), api);
    await a.put(web('two'), api);
    // b holds version 0: its batch meets versions 1 and 2, of other names and hosts.
    const r = await b.put(web('three'), api);
    expect(r.version).toBe(3);
    expect(b.commitStats.refused).toBe(0);
    expect(b.list().map((x) => x.service.name)).toEqual(['one', 'three', 'two']);
    expect(await versions(dbA)).toEqual([1, 2, 3]);
    await a.catchUp();
    expect(JSON.stringify(a.list())).toBe(JSON.stringify(b.list()));
  });

  it('a write on a host another registry claimed meanwhile is refused with 409 and nothing of it is stored', async () => {
    await a.put(web('first', 'shared.test'), api);
    // b's batch meets a's version on the same host: refused, b catches up, runs it again, 409.
    const err = await b.put(web('second', 'shared.test'), api).then(
      () => undefined,
      (e: unknown) => e as GatehouseError,
    );
    expect(err?.status).toBe(409);
    expect(b.commitStats.refused).toBe(1);
    expect(await versions(dbA)).toEqual([1]);
    expect(b.list().map((x) => x.service.name)).toEqual(['first']);
    // Its claims are those of the stored state: another host is free, the shared one is not.
    expect((await b.put(web('third'), api)).version).toBe(2);
    expect(b.servesHost('shared.test')).toBe(true);
  });

  it('a create of a name another registry created meanwhile is a 409, not a 503', async () => {
    await a.put(web('same'), api, { create: true });
    const err = await b.put(web('same'), api, { create: true }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GatehouseError);
    expect((err as GatehouseError).status).toBe(409);
    // A host another replica claimed meanwhile is checked against the caught-up claims too.
    const host = await b.put(web('other', 'same.test'), api).then(
      () => undefined,
      (e: unknown) => e as GatehouseError,
    );
    expect(host?.status).toBe(409);
  });

  it('concurrent writes on both: versions 1..N with no gap or duplicate, the same state on both', async () => {
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      writes.push(a.put(web(`a${i}`), api));
      writes.push(b.put(web(`b${i}`), api));
    }
    const answers = await Promise.all(writes);
    const numbers = answers.map((x) => (x as { version: number }).version).sort((x, y) => x - y);
    expect(numbers).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
    expect(await versions(dbA)).toEqual(numbers);
    await a.catchUp();
    await b.catchUp();
    expect(a.version).toBe(80);
    expect(b.version).toBe(80);
    expect(JSON.stringify(a.list())).toBe(JSON.stringify(b.list()));
  });

  it('a delete and an update on another registry reach this one; a rollback there is refused with 409', async () => {
    await a.put(web('x'), api);
    await a.put(web('y'), api);
    await b.catchUp();
    await a.remove('x', api);
    await a.put(web('y', 'y2.test'), api);
    await b.catchUp();
    expect(b.list().map((r) => [r.service.name, r.service.hosts])).toEqual([['y', ['y2.test']]]);
    // Claims follow: y.test is free again on b, x.test too.
    expect(b.servesHost('y.test')).toBe(false);
    expect((await b.put(web('z', 'y.test'), api)).version).toBe(5);
    // A restore computed before another replica wrote is not run again on the new state.
    await a.put(web('w'), api);
    const err = await b.restore([['y', undefined]], api).then(
      () => undefined,
      (e: unknown) => e as GatehouseError,
    );
    expect(err?.status).toBe(409);
    await b.catchUp();
    expect(b.get('w')).toBeDefined();
    expect(b.get('y')).toBeDefined();
  });

  it('a registry far behind (versions pruned) reloads the whole state', async () => {
    for (let i = 0; i < 6; i++) await a.put(web(`p${i}`), api);
    await a.remove('p0', api);
    expect(await pruneVersions(a, 2, 0)).toBeGreaterThan(0);
    await b.catchUp();
    expect(b.version).toBe(7);
    expect(b.list().map((r) => r.service.name)).toEqual(['p1', 'p2', 'p3', 'p4', 'p5']);
  });

  it('a record another binary stored that this one does not accept is set aside, not served', async () => {
    await a.put(web('ok'), api);
    // Written as a newer binary might: version 2 with a spec this schema refuses.
    await dbA
      .insertInto('versions')
      .values({ version: 2, at: '', actor: 'x', source: 'api', reason: '' })
      .execute();
    await dbA
      .insertInto('changes')
      .values({
        version: 2,
        name: 'odd',
        before: null,
        after: JSON.stringify({ service: { name: 'odd', hosts: 5 }, meta: {} }),
      })
      .execute();
    const set: string[] = [];
    b.onUnloadable((u) => set.push(...u.map((x) => x.name)));
    await b.catchUp();
    expect(b.version).toBe(2);
    expect(b.get('odd')).toBeUndefined();
    expect(b.unloadable.map((u) => u.name)).toEqual(['odd']);
    expect(set).toEqual(['odd']);
  });

  it('the listener brings a write on one registry to the other without a write of its own', async () => {
    const repl = new Replication(url, b, silentLogger());
    await repl.start();
    try {
      const certs: number[] = [];
      repl.onCerts(() => certs.push(1));
      const t0 = performance.now();
      await a.put(web('live'), api);
      await until(() => b.get('live') !== undefined);
      const ms = performance.now() - t0;
      expect(ms).toBeLessThan(1000);
      // Its own writes' notifications are not taken for another replica's.
      await b.put(web('own'), api);
      expect(b.version).toBe(2);
      await sql`select pg_notify('gatehouse_certs', 'someone-else')`.execute(dbA);
      await until(() => certs.length === 1);
    } finally {
      await repl.stop();
    }
  });
});
