import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/net.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { BIN, cleanEnv, startReplica, type ReplicaProcess } from '../helpers/replicas.js';

const PRUNED = 'old versions pruned';

/**
 * Two `gatehouse up` processes on one PostgreSQL (one database URL, one GATEHOUSE_SECRET; own data
 * dirs and ports): exactly one leads; the leader killed with SIGKILL, the other leads within 5 s
 * (P15) and runs the leader's work (the version pruning pass).
 */
describe('replicas: leader election', () => {
  let pgc: TestPostgres;
  const replicas: ReplicaProcess[] = [];

  beforeAll(async () => {
    pgc = await startPostgres();
    const url = await pgc.createDatabase();
    replicas.push(await startReplica('alpha', url));
    replicas.push(await startReplica('beta', url));
  }, 90_000);
  afterAll(async () => {
    for (const r of replicas) await r.stop();
    await pgc?.stop().catch(() => undefined);
  });

  it('exactly one replica leads; both show it; `gatehouse status` says so', async () => {
    const [a, b] = await Promise.all(replicas.map((r) => r.status()));
    expect(a?.replica?.store).toBe('postgresql');
    expect([a?.replica?.leading, b?.replica?.leading].filter(Boolean)).toHaveLength(1);
    const leader = a?.replica?.leading ? 'alpha' : 'beta';
    expect(a?.replica?.leader).toBe(leader);
    expect(b?.replica?.leader).toBe(leader);
    expect([...(a?.replica?.replicas ?? [])].sort()).toEqual(['alpha', 'beta']);
    // Only the leader ran the pruning pass.
    const pruned = (r: ReplicaProcess) => r.lines.some((l) => l.msg === PRUNED);
    expect(replicas.filter(pruned).map((r) => r.name)).toEqual([leader]);

    const follower = replicas.find((r) => r.name !== leader) as ReplicaProcess;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [BIN, 'status', '--data-dir', follower.dataDir],
      { env: cleanEnv(), timeout: 30_000 },
    );
    expect(stdout).toContain(`replica:          ${follower.name} (follower; leader: ${leader})`);
    expect(stdout).toMatch(/replicas: +(alpha, beta|beta, alpha)/);
  });

  it('the leader killed (SIGKILL): the other leads within 5 s and runs the pruning pass (P15)', async () => {
    const sts = await Promise.all(replicas.map((r) => r.status()));
    const leader = replicas[sts.findIndex((s) => s.replica?.leading)] as ReplicaProcess;
    const other = replicas.find((r) => r !== leader) as ReplicaProcess;
    const killedAt = Date.now();
    const t0 = performance.now();
    await leader.kill();
    await until(async () => ((await other.status()).replica?.leading ? true : undefined), 10_000, 20);
    const tookMs = performance.now() - t0;
    console.log(`P15: leader killed -> replica ${other.name} leads after ${Math.round(tookMs)} ms`);
    expect(tookMs).toBeLessThan(5000);
    // The new leader's work: the pruning pass ran there after the kill.
    const ran = await until(
      () => other.lines.find((l) => l.msg === PRUNED && (l.time ?? 0) >= killedAt),
      5000,
      20,
    );
    const ranMs = (ran.time ?? 0) - killedAt;
    console.log(`P15: the pruning pass ran on the new leader ${ranMs} ms after the kill`);
    expect(ranMs).toBeLessThan(5000);
    const s = await other.status();
    expect(s.replica).toMatchObject({ id: other.name, leading: true, leader: other.name });
    expect(s.replica?.replicas).toEqual([other.name]);
  });
});
