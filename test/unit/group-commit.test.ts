import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { GatehouseError } from '../../src/model/errors.js';
import { serviceSchema } from '../../src/model/service.js';
import { Registry, type ChangeEvent, type WriteMeta, type WriteResult } from '../../src/registry/registry.js';
import { type Db } from '../../src/store/db.js';
import { openTestDb, STORES, stopSharedPostgres } from '../helpers/postgres.js';
import { buildRegisterServer } from '../../src/api/register.js';
import { TokenCheck } from '../../src/api/tokens.js';
import { settingsSchema } from '../../src/model/settings.js';
import { createLogger } from '../../src/observe/log.js';

const reg: WriteMeta = { actor: 'register:127.0.0.1', source: 'register' };
const reserved = new Map([[80, 'HTTP']]);
const web = (name: string, host = `${name}.test`, path = '/') => ({
  name,
  hosts: [host],
  routes: [{ path, upstreams: ['10.0.0.1:80'] }],
});

type Outcome = { ok: WriteResult } | { err: GatehouseError };

/** Starts every write in the same turn (as concurrent requests arriving together) and waits for all. */
async function concurrently(writes: (() => Promise<WriteResult>)[]): Promise<Outcome[]> {
  return Promise.all(
    writes.map((w) =>
      w().then(
        (ok): Outcome => ({ ok }),
        (e: unknown): Outcome => {
          if (!(e instanceof GatehouseError)) throw e;
          return { err: e };
        },
      ),
    ),
  );
}

async function storedVersions(db: Db): Promise<{ version: number; reason: string }[]> {
  return db.selectFrom('versions').select(['version', 'reason']).orderBy('version').execute();
}

async function storedNames(db: Db): Promise<string[]> {
  return (await db.selectFrom('services').select('name').orderBy('name').execute()).map((r) => r.name);
}

afterAll(stopSharedPostgres);

describe.each(STORES)('group commit (%s)', (kind) => {
  let db: Db;
  let r: Registry;
  let events: ChangeEvent[];
  beforeEach(async () => {
    db = await openTestDb(kind);
    r = await Registry.open(db, reserved);
    events = [];
    r.onChange((e) => events.push(e));
  });
  afterEach(async () => db.destroy());

  it('stores concurrent registrations in one transaction, a version each, in the order they came', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `svc${String(i).padStart(2, '0')}`);
    const before = r.commitStats;
    const out = await concurrently(names.map((n) => () => r.put(web(n), reg)));
    expect(out.map((o) => ('ok' in o ? o.ok.version : o.err.message))).toEqual(names.map((_, i) => i + 1));
    expect(out.every((o) => 'ok' in o && o.ok.created.length === 1)).toBe(true);
    const after = r.commitStats;
    expect(after.batches - before.batches).toBe(1);
    expect(after.largest).toBe(20);
    // Stored in order, one version each; visible and told to listeners once, with the last version.
    expect((await storedVersions(db)).map((v) => v.reason)).toEqual(names.map((n) => `put ${n}`));
    expect(await storedNames(db)).toEqual(names);
    expect(r.version).toBe(20);
    expect(r.list().map((x) => x.service.name)).toEqual(names);
    expect(events).toEqual([{ version: 20, names }]);
    // And they survive a reopen.
    const again = await Registry.open(db, reserved);
    expect(again.version).toBe(20);
    expect(again.list().length).toBe(20);
  });

  it('refuses a bad registration in a batch with its own 4xx naming the field; the others land', async () => {
    const out = await concurrently([
      () => r.put(web('first', 'shared.test'), reg),
      () => r.put(web('second', 'shared.test'), reg), // the same host + path as `first`, staged before it
      () => r.put({ ...web('third'), routes: [{ path: 'no-slash', upstreams: ['10.0.0.1:80'] }] }, reg),
      () => r.put(web('fourth'), reg),
    ]);
    expect('ok' in out[0]! && out[0].ok.version).toBe(1);
    const second = out[1]!;
    expect('err' in second && [second.err.status, second.err.issues[0]?.field]).toEqual([409, 'hosts.0']);
    expect('err' in second && second.err.message).toContain('service first');
    const third = out[2]!;
    expect('err' in third && [third.err.status, third.err.issues[0]?.field]).toEqual([400, 'routes.0.path']);
    expect('ok' in out[3]! && out[3].ok.version).toBe(2);
    expect(await storedNames(db)).toEqual(['first', 'fourth']);
    expect((await storedVersions(db)).map((v) => v.version)).toEqual([1, 2]);
  });

  it('checks each write against the ones staged before it in the batch: create, replace, delete', async () => {
    await r.put(web('keep'), reg);
    const out = await concurrently([
      () => r.put(web('a'), reg),
      () => r.put(web('a', 'a2.test'), reg),
      () => r.put(web('a', 'a2.test'), reg), // identical to the staged one: nothing more to store
      () => r.remove('a', reg),
      () => r.put(web('a', 'a3.test'), reg),
    ]);
    expect(out.map((o) => ('ok' in o ? [o.ok.version, o.ok.changed.length] : o.err.code))).toEqual([
      [2, 1],
      [3, 1],
      [3, 0],
      [4, 1],
      [5, 1],
    ]);
    expect(r.get('a')?.service.hosts).toEqual(['a3.test']);
    // Each version's before is the staged state before it: the version chain replays to the end.
    const changes = await db
      .selectFrom('changes')
      .selectAll()
      .where('name', '=', 'a')
      .orderBy('version')
      .execute();
    expect(changes.map((c) => [c.version, c.before !== null, c.after !== null])).toEqual([
      [2, false, true],
      [3, true, true],
      [4, true, false],
      [5, false, true],
    ]);
    const before3 = JSON.parse(changes[1]!.before!) as { service: { hosts: string[] } };
    expect(before3.service.hosts).toEqual(['a.test']);
  });

  it('reconciles and updates against the writes staged before them in the same batch', async () => {
    const docker: WriteMeta = { actor: 'docker', source: 'docker', owner: 'c1' };
    const svc = (name: string, host = `${name}.test`) => serviceSchema.parse(web(name, host));
    const out = await concurrently([
      () => r.reconcile([svc('a'), svc('b')], docker),
      // The same owner again before the first is stored: b (staged, not stored) goes.
      () => r.reconcile([svc('a')], docker),
      // Rewrites what the staged reconcile left, not the stored state (where a does not exist).
      () => r.update('a', (s) => ({ ...s, hosts: ['a2.test'] }), docker),
    ]);
    expect(out.map((o) => ('ok' in o ? [o.ok.version, o.ok.changed] : o.err.message))).toEqual([
      [1, ['a', 'b']],
      [2, ['b']],
      [3, ['a']],
    ]);
    expect(r.list().map((x) => [x.service.name, x.service.hosts[0]])).toEqual([['a', 'a2.test']]);
    expect(await storedNames(db)).toEqual(['a']);
  });

  it('fails every caller of a batch whose transaction fails, with a clear error, and writes none of it', async () => {
    await r.put(web('keep'), reg);
    // The database refuses one row of the batch, as a full disk or a broken file would.
    if (kind === 'sqlite') {
      await sql`create trigger no_boom before insert on services when new.name = 'boom'
      begin select raise(abort, 'disk says no'); end`.execute(db);
    } else {
      await sql`create function no_boom() returns trigger language plpgsql as $$
        begin if new.name = 'boom' then raise exception 'disk says no'; end if; return new; end $$`.execute(
        db,
      );
      await sql`create trigger no_boom before insert on services for each row execute function no_boom()`.execute(
        db,
      );
    }
    const out = await concurrently([
      () => r.put(web('one'), reg),
      () => r.put(web('boom'), reg),
      () => r.put(web('two', 'shared.test'), reg),
      () => r.remove('keep', { ...reg, force: true }),
    ]);
    for (const o of out) {
      expect('err' in o).toBe(true);
      if ('err' in o) {
        expect(o.err.code).toBe('commit_failed');
        expect(o.err.status).toBe(503);
        expect(o.err.message).toContain('disk says no');
        expect(o.err.message).toContain('nothing of it was stored');
      }
    }
    // Nothing half-written: not in the database, not in memory, not in the claims.
    expect((await storedVersions(db)).map((v) => v.version)).toEqual([1]);
    expect(await storedNames(db)).toEqual(['keep']);
    expect(r.version).toBe(1);
    expect(r.list().map((x) => x.service.name)).toEqual(['keep']);
    expect(r.servesHost('shared.test')).toBe(false);
    expect(r.servesHost('keep.test')).toBe(true);
    expect(events).toEqual([{ version: 1, names: ['keep'] }]);
    // The next writes go on from the stored state: the failed batch's versions and hosts are free.
    if (kind === 'sqlite') await sql`drop trigger no_boom`.execute(db);
    else await sql`drop trigger no_boom on services`.execute(db);
    const next = await r.put(web('three', 'shared.test'), reg);
    expect(next.version).toBe(2);
    expect(await storedNames(db)).toEqual(['keep', 'three']);
  });

  it('waits for a transaction open on the same database (users, links) before storing a batch', async () => {
    let release = (): void => undefined;
    const held = new Promise<void>((res) => (release = res));
    const other = db.transaction().execute(async (tx) => {
      await tx.insertInto('meta').values({ key: 'k', value: 'v' }).execute();
      await held;
    });
    // Let the other transaction begin before the registration.
    await new Promise((res) => setTimeout(res, 5));
    let done = false;
    const put = r.put(web('late'), reg).then((res) => ((done = true), res));
    // PostgreSQL: not waiting for the open transaction, the write completes while it is held.
    await (kind === 'postgres' ? put : new Promise((res) => setTimeout(res, 30)));
    try {
      // SQLite: one handle, so the batch waits. PostgreSQL: the other transaction has its own
      // connection from the pool, and the batch goes ahead beside it.
      expect(done).toBe(kind === 'postgres');
      expect(r.version).toBe(kind === 'postgres' ? 1 : 0);
    } finally {
      release();
    }
    await other;
    expect((await put).version).toBe(1);
    expect(await storedNames(db)).toEqual(['late']);
    expect(await db.selectFrom('meta').select('value').where('key', '=', 'k').executeTakeFirst()).toEqual({
      value: 'v',
    });
  });

  it('answers each of concurrent POST /register calls on its own: the bad one gets its 4xx, the rest land in one transaction', async () => {
    const settings = settingsSchema.parse({ base_domain: 'gc.test', register_allow: '127.0.0.0/8' });
    const app = buildRegisterServer({
      registry: r,
      settings,
      token: TokenCheck.fromToken('gc-token'),
      log: createLogger('silent'),
    });
    try {
      await r.put(web('taken', 'held.gc.test'), { actor: 'admin', source: 'api' });
      const post = (subdomain: string) =>
        app.inject({
          method: 'POST',
          url: '/register',
          remoteAddress: '127.0.0.1',
          headers: { authorization: 'Bearer gc-token' },
          payload: { subdomain, backend_ip: '10.0.0.7', backend_port: 8080 },
        });
      const before = r.commitStats.batches;
      const subs = ['r0', 'r1', 'held', 'r3', 'r4', 'r5'];
      const res = await Promise.all(subs.map(post));
      expect(res.map((x) => x.statusCode)).toEqual([201, 201, 409, 201, 201, 201]);
      const refused = res[2]!.json<{ error: { message: string; issues: { field: string }[] } }>();
      expect(refused.error.issues[0]?.field).toBe('body.subdomain');
      expect(refused.error.message).toContain('service taken');
      // In the order they came, one transaction (the five stored ones) after the operator's write.
      expect(
        res.filter((x) => x.statusCode === 201).map((x) => x.json<{ version: number }>().version),
      ).toEqual([2, 3, 4, 5, 6]);
      expect(r.commitStats.batches - before).toBe(1);
      expect(await storedNames(db)).toEqual(['r0', 'r1', 'r3', 'r4', 'r5', 'taken']);
    } finally {
      await app.close();
    }
  });
});
