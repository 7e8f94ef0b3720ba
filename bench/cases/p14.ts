import { isRecord } from '../lib/child.js';
import type { BenchContext } from '../lib/context.js';
import { startBenchEdge, untilServes, type BenchEdge } from '../lib/edge-agent.js';
import { hostOf } from '../lib/gatehouse.js';
import { startBenchPostgres, type BenchPostgres } from '../lib/postgres.js';
import { startBenchReplicas, type BenchReplica } from '../lib/replicas.js';
import type { CaseResult } from '../lib/report.js';
import { median, percentile, round } from '../lib/stats.js';

const WRITES = 100;

/**
 * P14: a write on replica A reaches an edge agent that follows replica B. Two `gatehouse up`
 * replicas on one PostgreSQL; the edge (`gatehouse edge`, its own process and nginx) is given only
 * B's URL. Each write is a registration of a new host on A (`POST /register`, a fresh connection),
 * timed from A's answer until the edge's nginx first answers 200 for that host (asked every ~2 ms).
 * The path: A commits, PostgreSQL's NOTIFY wakes B, B answers the edge's long-poll, the edge applies.
 */
export async function p14(ctx: BenchContext): Promise<CaseResult> {
  const backend = await ctx.backend();
  let pgc: BenchPostgres | undefined;
  let rs: BenchReplica[] = [];
  let edge: BenchEdge | undefined;
  try {
    pgc = await startBenchPostgres();
    const url = await pgc.createDatabase();
    rs = await startBenchReplicas([
      { name: 'A', databaseUrl: url },
      { name: 'B', databaseUrl: url },
    ]);
    const [a, b] = rs as [BenchReplica, BenchReplica];
    const node = await a.api('POST', '/api/v1/nodes', { name: 'bench-edge-b', role: 'public' });
    const token = isRecord(node.json) ? node.json.token : undefined;
    if (node.status !== 201 || typeof token !== 'string')
      throw new Error(`P14: enrolling answered ${node.status}`);
    edge = await startBenchEdge(`http://127.0.0.1:${b.apiPort}`, token);
    const e = edge;
    const warm = await a.register('p14-warm', backend.port);
    if (warm.status >= 300) throw new Error(`P14: registration answered ${warm.status}`);
    await untilServes(e.httpPort, hostOf('p14-warm'), 60_000);

    const served: number[] = [];
    for (let i = 0; i < WRITES; i++) {
      const r = await a.register(`p14-${i}`, backend.port);
      if (r.status >= 300) throw new Error(`P14: registration ${i} answered ${r.status}`);
      served.push(await untilServes(e.httpPort, hostOf(`p14-${i}`), 10_000));
    }
    const fmt = `p50 ${round(median(served))} ms, p99 ${round(percentile(served, 99))} ms, max ${round(Math.max(...served))} ms`;
    return {
      rows: [
        {
          id: 'P14',
          measure: 'write on replica A → an edge following replica B serves it, p99',
          value: round(percentile(served, 99)),
          unit: 'ms',
          goal: { op: '<=', value: 150 },
          detail: `${WRITES} registrations of new hosts on A, from A's answer to the edge's first 200: ${fmt}`,
        },
      ],
      notes: [],
      data: { writes: WRITES, served },
    };
  } finally {
    await edge?.stop().catch(() => undefined);
    await Promise.all(rs.map((r) => r.stop().catch(() => undefined)));
    await pgc?.stop();
  }
}
