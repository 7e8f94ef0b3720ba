import type { BenchContext } from '../lib/context.js';
import { startBenchPostgres, type BenchPostgres } from '../lib/postgres.js';
import { isLeading, startBenchReplica, startBenchReplicas, type BenchReplica } from '../lib/replicas.js';
import type { CaseResult } from '../lib/report.js';
import { median, round, sleep } from '../lib/stats.js';

const ROUNDS = 5;
const GIVE_UP_MS = 20_000;
/** The leader's work: the version pruning pass runs when a replica comes to lead (src/gatehouse.ts). */
const PRUNED = 'old versions pruned';

/** The one replica of `rs` that says it leads, asked every 20 ms until one does. */
async function leaderOf(rs: BenchReplica[], giveUpMs: number): Promise<BenchReplica> {
  const t0 = performance.now();
  for (;;) {
    const leading = await Promise.all(rs.map(isLeading));
    const i = leading.indexOf(true);
    if (i >= 0) return rs[i] as BenchReplica;
    if (performance.now() - t0 > giveUpMs) throw new Error(`P15: no replica leads after ${giveUpMs} ms`);
    await sleep(20);
  }
}

/** When (epoch ms, the log line's own time) `r` logged `msg` at or after `since`. */
async function loggedAt(r: BenchReplica, msg: string, since: number, giveUpMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const line = r.lines.find((l) => l.msg === msg && (l.time ?? 0) >= since);
    if (line?.time !== undefined) return line.time;
    if (performance.now() - t0 > giveUpMs) throw new Error(`P15: ${r.name} did not log "${msg}"`);
    await sleep(20);
  }
}

/**
 * P15: the leader killed (SIGKILL) → another replica leads and its leader work resumes. Three
 * `gatehouse up` replicas on one PostgreSQL (log level info); each round kills whichever leads, times
 * until a survivor's `GET /api/v1/status` says `replica.leading`, and until the new leader's log shows
 * its version pruning pass (a leader job, started when leadership comes), then replaces the killed
 * replica with a fresh one so that every round starts with three.
 */
export async function p15(_ctx: BenchContext): Promise<CaseResult> {
  let pgc: BenchPostgres | undefined;
  let rs: BenchReplica[] = [];
  const killed: BenchReplica[] = [];
  try {
    pgc = await startBenchPostgres();
    const url = await pgc.createDatabase();
    rs = await startBenchReplicas(
      ['r1', 'r2', 'r3'].map((name) => ({ name, databaseUrl: url, logLevel: 'info' })),
    );
    const leads: number[] = [];
    const resumed: number[] = [];
    const moves: string[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const leader = await leaderOf(rs, GIVE_UP_MS);
      const others = rs.filter((r) => r !== leader);
      const killedAt = Date.now();
      const t0 = performance.now();
      await leader.kill();
      killed.push(leader);
      const next = await leaderOf(others, GIVE_UP_MS);
      leads.push(performance.now() - t0);
      resumed.push((await loggedAt(next, PRUNED, killedAt, GIVE_UP_MS)) - killedAt);
      moves.push(`${leader.name}→${next.name}`);
      await leader.stop();
      rs = [...others, await startBenchReplica({ name: `r${i + 4}`, databaseUrl: url, logLevel: 'info' })];
    }
    const fmt = (xs: number[]) => `${xs.map((x) => round(x)).join(', ')} ms (median ${round(median(xs))} ms)`;
    return {
      rows: [
        {
          id: 'P15',
          measure: 'leader SIGKILLed → a survivor leads (status API), max',
          value: round(Math.max(...leads)),
          unit: 'ms',
          goal: { op: '<=', value: 5000 },
          detail: `${ROUNDS} kills of 3 replicas (${moves.join(', ')}): ${fmt(leads)}`,
        },
        {
          id: 'P15',
          measure: "leader SIGKILLed → the new leader's work resumed (its pruning pass logged), max",
          value: round(Math.max(...resumed)),
          unit: 'ms',
          goal: { op: '<=', value: 5000 },
          detail: `from the kill to the log line's time: ${fmt(resumed)}`,
        },
      ],
      notes: [],
      data: { rounds: ROUNDS, leads, resumed, moves },
    };
  } finally {
    await Promise.all([...rs, ...killed].map((r) => r.stop().catch(() => undefined)));
    await pgc?.stop();
  }
}
