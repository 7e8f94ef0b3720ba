import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observe/log.js';
import type { Db } from '../../src/store/db.js';
import { openLeader, REPLICA_APP_PREFIX, type Leader } from '../../src/store/leader.js';
import { openDatabase } from '../../src/store/open.js';
import { until } from '../helpers/net.js';
import { openTestDb, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { loadSettings } from '../../src/model/settings.js';
import { BackupService } from '../../src/store/backup-schedule.js';
import { makeCa } from '../helpers/tls.js';
import { Registry } from '../../src/registry/registry.js';
import { Sealer } from '../../src/store/secrets.js';
import type { AcmeIssuer } from '../../src/tls/acme.js';
import { CertManager } from '../../src/tls/manager.js';
import { CertStore } from '../../src/tls/store.js';

const log = createLogger('silent');

/** A leader whose one job records when it runs. */
function withJob(leader: Leader, events: string[]) {
  const part = leader.whileLeading('job', () => {
    events.push(`${leader.id} start`);
    return () => void events.push(`${leader.id} stop`);
  });
  return part;
}

describe('leader election on SQLite', () => {
  it('always leads: jobs run from their start to their stop', async () => {
    const leader = openLeader({ replica_name: 'solo' }, undefined as unknown as Db, log);
    const events: string[] = [];
    await leader.start();
    const job = withJob(leader, events);
    await job.start();
    expect(leader.leading).toBe(true);
    expect(await leader.status()).toEqual({
      id: 'solo',
      leading: true,
      leader: 'solo',
      replicas: ['solo'],
      store: 'sqlite',
    });
    await job.stop();
    await leader.stop();
    expect(events).toEqual(['solo start', 'solo stop']);
  });
});

describe('scheduled backups run on the leader only', () => {
  it('a follower writes none; once it leads, it writes them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gh-leader-backups-'));
    const db = await openTestDb('sqlite');
    const before = process.env.GATEHOUSE_BACKUP_PASSPHRASE;
    process.env.GATEHOUSE_BACKUP_PASSPHRASE = 'leader backup passphrase';
    let leading = false;
    const settings = loadSettings({ data_dir: dir, backup_interval: '100ms' }, {});
    const stop = BackupService.start(db, dir, settings, log, () => leading);
    try {
      const svc = new BackupService(db, dir, settings, log);
      await new Promise((r) => setTimeout(r, 600));
      expect(svc.list()).toEqual([]);
      leading = true;
      await until(() => (svc.list().length > 0 ? true : undefined), 5000, 50);
    } finally {
      stop();
      if (before === undefined) delete process.env.GATEHOUSE_BACKUP_PASSPHRASE;
      else process.env.GATEHOUSE_BACKUP_PASSPHRASE = before;
      await db.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('leader election on PostgreSQL (two Leader objects, one database)', () => {
  let pgc: TestPostgres;
  let url: string;
  let db: Db;
  beforeAll(async () => {
    pgc = await startPostgres();
    url = await pgc.createDatabase();
    db = await openDatabase(url);
  }, 60_000);
  afterAll(async () => {
    await db?.destroy();
    await pgc?.stop().catch(() => undefined);
  });

  const open = (name: string) =>
    openLeader({ database_url: url, replica_name: name }, db, log, { retryMs: 200, timeoutMs: 1000 });

  it('one leads; its connection killed, it stops at once and the other takes over', async () => {
    const a = open('replica-a');
    const b = open('replica-b');
    const events: string[] = [];
    await a.start();
    // Its first try may miss on a busy machine (a 1 s connect bound here): the next one leads.
    await until(() => (a.leading ? true : undefined), 5000, 20);
    await b.start();
    const ja = withJob(a, events);
    const jb = withJob(b, events);
    await ja.start();
    await jb.start();
    try {
      expect(a.leading).toBe(true);
      expect(b.leading).toBe(false);
      expect(events).toEqual(['replica-a start']);
      const seen = await b.status();
      expect(seen).toMatchObject({
        id: 'replica-b',
        leading: false,
        leader: 'replica-a',
        store: 'postgresql',
      });
      expect([...seen.replicas].sort()).toEqual(['replica-a', 'replica-b']);

      // The leader's session dies (as when its process is killed): the lock goes with it.
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query(
        'select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1',
        [`${REPLICA_APP_PREFIX}replica-a`],
      );
      await admin.end();
      // It stops leading (its job stopped) as soon as it sees the connection go; then exactly one
      // of the two leads again (a, reconnected, may win the lock back: a dead process would not).
      await until(() => (events.includes('replica-a stop') ? true : undefined), 2000, 10);
      await until(() => (a.leading !== b.leading ? true : undefined), 2000, 10);
      const [leader, follower] = a.leading ? [a, b] : [b, a];
      await until(async () => ((await follower.status()).leader === leader.id ? true : undefined), 3000, 50);
      expect(await leader.status()).toMatchObject({ leading: true, leader: leader.id });
      expect(events.at(-1)).toBe(`${leader.id} start`);

      // The leader stops (gracefully, or killed: its session ends): the other leads within a second or so.
      const jobOf = leader === a ? ja : jb;
      await jobOf.stop();
      await leader.stop();
      const stoppedAt = events.lastIndexOf(`${leader.id} stop`);
      expect(stoppedAt).toBeGreaterThanOrEqual(0);
      const t0 = performance.now();
      await until(() => (follower.leading ? true : undefined), 3000, 10);
      expect(performance.now() - t0).toBeLessThan(1500);
      // After the leader's stop, only the follower's start (it may come before stop() returns).
      expect(events.slice(stoppedAt + 1)).toEqual([`${follower.id} start`]);
      expect(events.filter((e) => e.endsWith('start')).length).toBe(
        events.filter((e) => e.endsWith('stop')).length + 1,
      );
    } finally {
      await ja.stop();
      await jb.stop();
      await a.stop();
      await b.stop();
    }
  });

  it('certificates: only the leader orders; a replica that comes to lead looks at once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gh-leader-certs-'));
    const ca = makeCa(dir);
    const store = new CertStore(db, await Sealer.load(dir));
    // One registry for both (sharing it between processes is the registry's part, not the election's).
    const registry = await Registry.open(db, new Map());
    const ordered: string[] = [];
    /** A replica as src/gatehouse.ts wires one: its leader and its certificate manager. */
    const replica = async (name: string) => {
      const leader = open(name);
      await leader.start();
      const issuer = {
        issue: async (names: string[]) => {
          ordered.push(`${name} ${names.join(',')}`);
          return ca.issue(names);
        },
      } as unknown as AcmeIssuer;
      const certs = new CertManager(registry, store, issuer, log, { leading: () => leader.leading });
      await certs.start();
      const job = leader.whileLeading('certificates', () => {
        void certs.kick();
        return () => undefined;
      });
      await job.start();
      return { leader, certs, job };
    };
    const put = (host: string) =>
      registry.put(
        { name: host.split('.')[0] as string, hosts: [host], routes: [{ upstreams: ['10.0.0.1:80'] }] },
        { actor: 't', source: 'api' },
      );
    const a = await replica('certs-a');
    const b = await replica('certs-b');
    try {
      expect(a.leader.leading).toBe(true);
      // Both managers see the change; only the leader's orders.
      await put('one.leader.test');
      await until(() => (ordered.length >= 1 ? true : undefined), 5000);
      await b.certs.kick();
      await new Promise((r) => setTimeout(r, 800));
      expect(ordered).toEqual(['certs-a one.leader.test']);

      // A host while a's manager is stopped: the follower leaves it alone...
      a.certs.stop();
      await put('two.leader.test');
      await new Promise((r) => setTimeout(r, 800));
      expect(ordered).toEqual(['certs-a one.leader.test']);
      // ...until a goes and b leads: b looks at once.
      await a.job.stop();
      await a.leader.stop();
      await until(() => (ordered.length >= 2 ? true : undefined), 5000, 10);
      expect(b.leader.leading).toBe(true);
      expect(ordered).toEqual(['certs-a one.leader.test', 'certs-b two.leader.test']);
    } finally {
      for (const r of [a, b]) {
        await r.job.stop();
        r.certs.stop();
        await r.leader.stop();
      }
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the database goes away: the leader stops leading; back, one leads again', async () => {
    const a = open('replica-c');
    const events: string[] = [];
    await a.start();
    const job = withJob(a, events);
    await job.start();
    try {
      expect(a.leading).toBe(true);
      await pgc.stop();
      await until(() => (!a.leading ? true : undefined), 5000, 10);
      expect(events).toEqual(['replica-c start', 'replica-c stop']);
      await pgc.start();
      await until(() => (a.leading ? true : undefined), 10_000, 50);
      expect(events).toEqual(['replica-c start', 'replica-c stop', 'replica-c start']);
    } finally {
      await job.stop();
      await a.stop();
    }
  }, 30_000);
});
