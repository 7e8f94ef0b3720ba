import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observe/log.js';
import { Registry } from '../../src/registry/registry.js';
import { AgentLeases, agentRegisterSchema } from '../../src/sources/agent/leases.js';
import type { Db } from '../../src/store/db.js';
import { openDatabase } from '../../src/store/open.js';
import { until } from '../helpers/net.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

const log = createLogger('silent');

/**
 * Agent leases among replicas: an agent registers and heartbeats on a follower; the leader's sweep
 * sees those heartbeats (kept in the store), so it leaves the service in rotation while they come,
 * and suspends then removes it once they stop.
 */
describe('agent leases with two replicas on one PostgreSQL', () => {
  let pgc: TestPostgres;
  let db: Db;
  beforeAll(async () => {
    pgc = await startPostgres();
    db = await openDatabase(await pgc.createDatabase());
  }, 60_000);
  afterAll(async () => {
    await db?.destroy();
    await pgc?.stop().catch(() => undefined);
  });

  it('the leader sweeps by the heartbeats a follower took', async () => {
    // One registry for both (sharing it between processes is the registry's part, not the election's).
    const registry = await Registry.open(db, new Map());
    // Leading is all these leases ask of their leader: a leads, b follows.
    const a = new AgentLeases(registry, 1500, log, () => true, true);
    const b = new AgentLeases(registry, 1500, log, () => false, true);
    await a.start();
    await b.start();
    try {
      await b.register(
        agentRegisterSchema.parse({
          name: 'vm',
          domains: ['vm.test'],
          upstreams: ['10.0.0.1:80'],
          ttl: '2s',
        }),
      );
      const beats = setInterval(() => void b.heartbeat('vm', true).catch(() => undefined), 400);
      await new Promise((r) => setTimeout(r, 3500));
      clearInterval(beats);
      // Past its TTL on the leader's clock had the leader only its own memory: still in rotation.
      expect(registry.get('vm')?.service.suspended).toBeFalsy();
      // Silent: out of rotation after its TTL, removed after the grace period, by the leader.
      await until(() => (registry.get('vm')?.service.suspended ? true : undefined), 4000, 50);
      await until(() => (registry.get('vm') === undefined ? true : undefined), 4000, 50);
      const left = await db.selectFrom('meta').selectAll().where('key', 'like', 'agent-seen %').execute();
      expect(left).toEqual([]);
    } finally {
      await a.stop();
      await b.stop();
    }
  }, 30_000);
});
