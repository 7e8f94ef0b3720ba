import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GatehouseError } from '../../src/model/errors.js';
import { serviceSchema } from '../../src/model/service.js';
import { Registry, type WriteMeta } from '../../src/registry/registry.js';
import {
  diffVersions,
  listVersions,
  pruneVersions,
  rollback,
  stateAt,
} from '../../src/registry/snapshots.js';
import { type Db } from '../../src/store/db.js';
import { openTestDb, STORES, stopSharedPostgres } from '../helpers/postgres.js';

const api: WriteMeta = { actor: 'admin', source: 'api' };
const reg: WriteMeta = { actor: 'register', source: 'register' };
const reserved = new Map([
  [80, 'HTTP'],
  [7070, 'API'],
]);
const web = (name: string, host = `${name}.test`, path = '/') => ({
  name,
  hosts: [host],
  routes: [{ path, upstreams: ['10.0.0.1:80'] }],
});

async function rejection(p: Promise<unknown>): Promise<GatehouseError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GatehouseError);
  return err as GatehouseError;
}

afterAll(stopSharedPostgres);

describe.each(STORES)('registry (%s)', (kind) => {
  let db: Db;
  let r: Registry;
  beforeEach(async () => {
    db = await openTestDb(kind);
    r = await Registry.open(db, reserved);
  });
  afterEach(async () => db.destroy());

  it('creates, updates and deletes, one version each; identical writes are no-ops', async () => {
    expect((await r.put(web('a'), api)).version).toBe(1);
    expect((await r.put(web('a'), api)).changed).toEqual([]);
    expect(r.version).toBe(1);
    expect((await r.put(web('a', 'a2.test'), api)).version).toBe(2);
    expect((await r.put(web('b'), api)).version).toBe(3);
    expect((await r.remove('a', api)).version).toBe(4);
    expect(r.list().map((x) => x.service.name)).toEqual(['b']);
  });

  it('refuses a host + path another service claims, and keeps the state', async () => {
    await r.put(web('a', 'shared.test', '/api/'), api);
    const err = await rejection(r.put(web('b', 'shared.test', '/api/'), api));
    expect(err.status).toBe(409);
    expect(err.issues[0]?.field).toBe('routes.0.path');
    expect(err.message).toContain('service a');
    expect(r.get('b')).toBeUndefined();
    expect(r.version).toBe(1);
    // Another path on the same host is fine, and so is the same service rewriting its own claim.
    await r.put(web('b', 'shared.test', '/web/'), api);
    await r.put(web('a', 'shared.test', '/api/'), api);
  });

  it('refuses TCP ports taken by another service or by Gatehouse itself', async () => {
    await r.put({ name: 'mqtt', tcp: [{ port: 8883, upstreams: ['10.0.0.9:1883'] }] }, api);
    const dup = await rejection(
      r.put({ name: 'other', tcp: [{ port: 8883, upstreams: ['10.0.0.9:1883'] }] }, api),
    );
    expect(dup.issues[0]).toEqual({
      field: 'tcp.0.port',
      message: 'port 8883 is already routed by service mqtt',
    });
    const own = await rejection(r.put({ name: 'x', tcp: [{ port: 7070, upstreams: ['10.0.0.9:1'] }] }, api));
    expect(own.message).toContain("Gatehouse's API port");
  });

  it('lets a source change only what it created (the operator may change anything)', async () => {
    await r.put(web('mine'), reg);
    await r.put(web('ops'), api);
    expect((await rejection(r.put(web('ops', 'x.test'), reg))).status).toBe(409);
    expect((await rejection(r.remove('ops', reg))).status).toBe(409);
    await r.remove('mine', reg);
    // The operator editing a source's record takes it over: the source can no longer undo the edit.
    await r.put(web('theirs'), reg);
    await r.put(web('theirs', 't2.test'), api);
    expect(r.get('theirs')?.meta.source).toBe('api');
    expect((await rejection(r.put(web('theirs'), reg))).status).toBe(409);
  });

  it('keeps registrations off hosts other sources or owners serve; containers may share one', async () => {
    await r.put(web('guarded', 'app.test', '/'), api);
    const front = await rejection(r.put(web('sneaky', 'app.test', '/admin/'), reg));
    expect(front.issues[0]?.field).toBe('hosts.0');
    expect(front.message).toContain('service guarded (api)');
    await r.put(web('wild', '*.w.test'), api);
    expect((await rejection(r.put(web('carve', 'x.w.test'), reg))).status).toBe(409);
    const c1 = { actor: 'docker', source: 'docker' as const, owner: 'front' };
    const c2 = { actor: 'docker', source: 'docker' as const, owner: 'back' };
    await r.reconcile([serviceSchema.parse(web('shop', 'shop.test', '/'))], c1);
    await r.reconcile([serviceSchema.parse(web('shop-api', 'shop.test', '/api/'))], c2);
    expect((await rejection(r.put(web('reg-shop', 'shop.test', '/x/'), reg))).status).toBe(409);
  });

  it('reconciles one owner of a source: puts what it holds, removes what it no longer holds, nothing else', async () => {
    const c1 = { actor: 'docker', source: 'docker' as const, owner: 'c1' };
    const c2 = { actor: 'docker', source: 'docker' as const, owner: 'c2' };
    const svc = (name: string) => serviceSchema.parse(web(name));
    await r.reconcile([svc('one'), svc('two')], c1);
    await r.reconcile([svc('three')], c2);
    expect(r.get('one')?.meta).toMatchObject({ source: 'docker', owner: 'c1' });
    // c1 drops "two": only that record goes.
    const res = await r.reconcile([svc('one')], c1);
    expect(res.changed).toEqual(['two']);
    expect(r.list().map((x) => x.service.name)).toEqual(['one', 'three']);
    // Another owner of the same source may not take over or remove c1's record.
    expect((await rejection(r.reconcile([svc('one')], c2))).message).toContain('docker (c1)');
    expect([...r.owners('docker')].sort()).toEqual(['c1', 'c2']);
    // The owner survives a reopen.
    const again = await Registry.open(db, reserved);
    expect(again.get('three')?.meta.owner).toBe('c2');
    await r.reconcile([], c1);
    expect(r.get('one')).toBeUndefined();
  });

  it('applies a batch all or nothing', async () => {
    await r.put(web('a'), api);
    const err = await rejection(
      r.apply(
        [
          { kind: 'put', service: serviceSchema.parse(web('b')) },
          { kind: 'delete', name: 'missing' },
        ],
        api,
      ),
    );
    expect(err.status).toBe(404);
    expect(r.get('b')).toBeUndefined();
    expect(r.version).toBe(1);
  });

  it('persists across a reopen', async () => {
    await r.put(web('a'), api);
    await r.put(web('b'), api);
    const again = await Registry.open(db, reserved);
    expect(again.version).toBe(2);
    expect(again.list().map((x) => x.service.name)).toEqual(['a', 'b']);
    // The claim index is rebuilt too.
    expect((await rejection(again.put(web('c', 'a.test'), api))).status).toBe(409);
  });

  it('reconstructs, diffs and rolls back versions', async () => {
    await r.put(web('a'), api); // 1
    await r.put(web('a', 'a2.test'), api); // 2
    await r.put(web('b'), api); // 3
    expect([...(await stateAt(r, 1)).keys()]).toEqual(['a']);
    expect((await stateAt(r, 1)).get('a')?.service.hosts).toEqual(['a.test']);
    const d = await diffVersions(r, 1, 3);
    expect(d.map((x) => [x.name, x.op])).toEqual([
      ['a', 'update'],
      ['b', 'create'],
    ]);
    const res = await rollback(r, 1, api);
    expect(res.version).toBe(4);
    expect(r.list().map((x) => x.service.hosts[0])).toEqual(['a.test']);
    const [latest] = await listVersions(r, 1);
    expect(latest?.reason).toBe('rollback to version 1');
    expect(latest?.changes.map((c) => `${c.op} ${c.name}`).sort()).toEqual(['delete b', 'update a']);
  });

  it('prunes versions older than both the newest N and D days', async () => {
    for (let i = 0; i < 10; i++) await r.put(web('a', `a${i}.test`), api);
    // Everything is younger than a day: nothing goes.
    expect(await pruneVersions(r, 3, 1)).toBe(0);
    // Seen from two days later, the 7 oldest go and the newest 3 stay.
    expect(await pruneVersions(r, 3, 1, Date.now() + 2 * 86_400_000)).toBe(7);
    expect((await listVersions(r, 100)).map((v) => v.version)).toEqual([10, 9, 8]);
    expect((await stateAt(r, 8)).get('a')?.service.hosts).toEqual(['a7.test']);
    expect((await rejection(stateAt(r, 5))).status).toBe(404);
  });

  it('sets aside a stored record that no longer validates, and lets it be replaced or deleted', async () => {
    await r.put(web('good'), api);
    const row = { source: 'api', owner: '', created_at: 'x', updated_at: 'x' };
    await db
      .insertInto('services')
      .values({
        name: 'old',
        spec: '{"name":"old","hosts":["o.test"],"routes":[{"path":"/%7E/","upstreams":["10.0.0.1:80"]}]}',
        ...row,
      })
      .execute();
    await db
      .insertInto('services')
      .values({ name: 'junk', spec: 'not json', ...row })
      .execute();
    const again = await Registry.open(db, reserved);
    expect(again.list().map((x) => x.service.name)).toEqual(['good']);
    expect(again.unloadable.map((u) => u.name)).toEqual(['junk', 'old']);
    expect(again.unloadable.find((u) => u.name === 'old')?.error).toContain('routes.0.path');
    await again.put(web('old'), api);
    await again.remove('junk', api);
    expect(again.unloadable).toEqual([]);
    const third = await Registry.open(db, reserved);
    expect(third.list().map((x) => x.service.name)).toEqual(['good', 'old']);
    expect(third.unloadable).toEqual([]);
  });

  it('needs force to remove the last route', async () => {
    await r.put(web('a'), api);
    const err = await rejection(r.remove('a', api));
    expect(err.code).toBe('would_drop_all_routes');
    expect(r.get('a')).toBeDefined();
    await r.remove('a', { ...api, force: true });
    expect(r.list()).toEqual([]);
  });
});
