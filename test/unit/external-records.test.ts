import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExternalRecords, type DnsRecordEvent } from '../../src/dns/external-records.js';
import type { ServiceHosts } from '../../src/dns/record-plan.js';
import type { RecordProvider, RecordSet, RecordType } from '../../src/dns/records.js';
import { createLogger } from '../../src/observe/log.js';
import type { Db } from '../../src/store/db.js';
import { installationId } from '../../src/store/instance-id.js';
import { openDatabase } from '../../src/store/open.js';
import { until } from '../helpers/net.js';
import { testDir } from '../helpers/tmp.js';

/** A zone held in memory (a fake of a provider, not one), which can be made to fail its writes. */
class MemoryZone implements RecordProvider {
  readonly sets = new Map<string, RecordSet>();
  failWrites = 0;
  writes = 0;
  constructor(readonly zone: string) {}
  async get(name: string): Promise<RecordSet[]> {
    return [...this.sets.values()].filter((s) => s.name === name);
  }
  async put(set: RecordSet): Promise<void> {
    this.writes++;
    if (this.failWrites > 0) {
      this.failWrites--;
      throw new Error('SERVFAIL from the fake');
    }
    this.sets.set(`${set.name} ${set.type}`, set);
  }
  async remove(name: string, type: RecordType): Promise<void> {
    this.writes++;
    this.sets.delete(`${name} ${type}`);
  }
  values(name: string, type: RecordType): string[] | undefined {
    return this.sets.get(`${name} ${type}`)?.values;
  }
}

describe('external records: the reconciler', () => {
  let db: Db;
  let zone: MemoryZone;
  let services: ServiceHosts[];
  let listeners: (() => void)[];
  let events: { kind: DnsRecordEvent; host: string; detail: string }[];
  let running: ExternalRecords[];

  const make = async (target = ['192.0.2.10']) => {
    const r = new ExternalRecords({
      settings: { dns_records: 'on', dns_records_target: target, dns_records_ttl: 60 },
      db,
      owner: await installationId(db),
      services: () => services,
      onServicesChange: (fn) => {
        listeners.push(fn);
        return () => (listeners = listeners.filter((l) => l !== fn));
      },
      zones: async () => ['ext.test'],
      recordsFor: async (name) => (name.endsWith('ext.test') ? zone : undefined),
      edges: async () => [],
      event: (kind, host, detail) => events.push({ kind, host, detail }),
      log: createLogger('silent'),
      debounceMs: 10,
    });
    running.push(r);
    return r;
  };
  const change = (next: ServiceHosts[]) => {
    services = next;
    for (const l of listeners) l();
  };

  beforeEach(async () => {
    db = await openDatabase(join(await testDir('ext-records-'), 'gatehouse.db'));
    zone = new MemoryZone('ext.test');
    services = [];
    listeners = [];
    events = [];
    running = [];
  });
  afterEach(async () => {
    for (const r of running) await r.stop();
    await db.destroy();
  });

  it('keeps one installation id', async () => {
    const id = await installationId(db);
    expect(id).toMatch(/^gh-[0-9a-f]{16}$/);
    expect(await installationId(db)).toBe(id);
  });

  it('retries a failing host with backoff, shown in its status, without holding the others', async () => {
    const r = await make();
    await r.start();
    zone.failWrites = 1;
    change([{ name: 'a', hosts: ['a.ext.test'] }]);
    const failed = await until(async () => {
      const v = (await r.view(true)).records.find((x) => x.host === 'a.ext.test');
      return v?.state === 'error' ? v : undefined;
    }, 2000);
    expect(failed.message).toBe('create failed: SERVFAIL from the fake');
    expect(Date.parse(failed.retry_at ?? '') - Date.now()).toBeGreaterThan(1000);
    expect(events.map((e) => e.kind)).toEqual(['dns_record_failed']);
    // Another service meanwhile is written at once.
    change([...services, { name: 'b', hosts: ['b.ext.test'] }]);
    await until(() => zone.values('b.ext.test', 'A')?.[0] === '192.0.2.10', 1000);
    // The retry (about 2 s later) finishes it: the mark too.
    const ok = await until(async () => {
      const v = (await r.view(true)).records.find((x) => x.host === 'a.ext.test');
      return v?.state === 'ok' ? v : undefined;
    }, 5000);
    expect(ok).toMatchObject({ message: '', retry_at: null });
    expect(Date.parse(ok.updated_at) - Date.parse(failed.updated_at)).toBeGreaterThan(1500);
    expect(zone.values('_gatehouse.a.ext.test', 'TXT')).toEqual([
      `heritage=gatehouse,owner=${(await r.view(true)).owner}`,
    ]);
    expect(zone.values('a.ext.test', 'A')).toEqual(['192.0.2.10']);
  });

  it('follows a steady stream of changes from its first one (the wait is not pushed back)', async () => {
    const r = await make();
    await r.start();
    await r.settled();
    const started = Date.now();
    let n = 0;
    // A change every 3 ms for 300 ms: a debounce that restarted on each would write nothing until the end.
    const stream = setInterval(() => {
      n++;
      change([...services, { name: `s${n}`, hosts: [`s${n}.ext.test`] }]);
    }, 3);
    try {
      await until(() => zone.values('s1.ext.test', 'A'), 250);
      expect(Date.now() - started).toBeLessThan(250);
      await new Promise((res) => setTimeout(res, Math.max(0, 300 - (Date.now() - started))));
    } finally {
      clearInterval(stream);
    }
    // The last change of the burst is followed too.
    await until(() => zone.values(`s${n}.ext.test`, 'A'), 2000);
  });

  it('removes what it created after a restart, and leaves a set it did not create', async () => {
    const first = await make();
    await first.start();
    zone.sets.set('taken.ext.test A', {
      name: 'taken.ext.test',
      type: 'A',
      ttl: 60,
      values: ['203.0.113.5'],
    });
    change([{ name: 'a', hosts: ['a.ext.test', 'taken.ext.test'] }]);
    await until(() => zone.values('a.ext.test', 'A'), 1000);
    await until(async () => (await first.view(true)).records.some((x) => x.state === 'conflict'), 1000);
    await first.stop();
    // Another replica (not leading) reads and says what the leader would do, writing nothing.
    const writes = zone.writes;
    services = [{ name: 'a', hosts: ['a.ext.test', 'new.ext.test', 'taken.ext.test'] }];
    const replica = await make(['192.0.2.20']);
    const seen = await replica.view(false);
    expect(seen.records.map((x) => [x.host, x.state])).toEqual([
      ['a.ext.test', 'pending'],
      ['new.ext.test', 'pending'],
      ['taken.ext.test', 'conflict'],
    ]);
    expect(zone.writes).toBe(writes);
    // The service is gone while nothing ran: the next start removes its records, marks too.
    services = [];
    const second = await make();
    await second.start();
    await until(() => zone.sets.size === 1, 2000);
    expect([...zone.sets.keys()]).toEqual(['taken.ext.test A']);
  });
});
