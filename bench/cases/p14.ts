import { isRecord } from '../lib/child.js';
import type { BenchContext } from '../lib/context.js';
import { startBenchEdge, untilServes, type BenchEdge } from '../lib/edge-agent.js';
import { hostOf } from '../lib/gatehouse.js';
import { httpRequest, parseJson } from '../lib/http.js';
import { startBenchPostgres, type BenchPostgres } from '../lib/postgres.js';
import { startBenchReplicas, type BenchReplica } from '../lib/replicas.js';
import type { CaseResult } from '../lib/report.js';
import { median, percentile, round, sleep } from '../lib/stats.js';

const WRITES = 100;

/** The config hash `port`'s replica has for the node of `token` now. */
async function currentHash(port: number, token: string): Promise<string> {
  const r = await httpRequest(port, {
    path: '/edge/v1/config?wait=0',
    headers: { authorization: `Bearer ${token}` },
  });
  const j = parseJson(r.body);
  if (r.status !== 200 || !isRecord(j) || typeof j.hash !== 'string')
    throw new Error(`P14: config ${r.status}`);
  return j.hash;
}

/** Long-polls as an agent does until the config differs from `have`: its hash, and when it came. */
async function nextConfig(port: number, token: string, have: string): Promise<{ hash: string; at: number }> {
  for (;;) {
    const r = await httpRequest(port, {
      path: `/edge/v1/config?have=${have}&wait=25`,
      headers: { authorization: `Bearer ${token}` },
      timeoutMs: 30_000,
    });
    const at = performance.now();
    if (r.status === 204) continue;
    const j = parseJson(r.body);
    if (r.status !== 200 || !isRecord(j) || typeof j.hash !== 'string')
      throw new Error(`P14: long-poll ${r.status}`);
    return { hash: j.hash, at };
  }
}

async function enrol(r: BenchReplica, name: string): Promise<string> {
  const node = await r.api('POST', '/api/v1/nodes', { name, role: 'public' });
  const token = isRecord(node.json) ? node.json.token : undefined;
  if (node.status !== 201 || typeof token !== 'string')
    throw new Error(`P14: enrolling answered ${node.status}`);
  return token;
}

/**
 * P14: a write on replica A reaches an edge agent that follows replica B. Two `gatehouse up`
 * replicas on one PostgreSQL; the edge (`gatehouse edge`, its own process and nginx) is given only
 * B's URL. Each write is a registration of a new host on A (`POST /register`, a fresh connection),
 * timed from A's answer until the edge's nginx first answers 200 for that host (asked every ~2 ms).
 * The path: A commits, PostgreSQL's NOTIFY wakes B, B answers the edge's long-poll, the edge applies.
 * A second row times the middle of that path: B answering a long-poll (a second node's, the bench's
 * own) with the new config, from A's answer.
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
    const token = await enrol(a, 'bench-edge-b');
    // A second node of the same role: the bench's own long-polls on B, timed at the protocol.
    const probe = await enrol(a, 'bench-probe-b');
    edge = await startBenchEdge(`http://127.0.0.1:${b.apiPort}`, token);
    const e = edge;
    const warm = await a.register('p14-warm', backend.port);
    if (warm.status >= 300) throw new Error(`P14: registration answered ${warm.status}`);
    await untilServes(e.httpPort, hostOf('p14-warm'), 60_000);

    const served: number[] = [];
    const delivered: number[] = [];
    let have = await currentHash(b.apiPort, probe);
    for (let i = 0; i < WRITES; i++) {
      const poll = nextConfig(b.apiPort, probe, have);
      await sleep(20);
      const r = await a.register(`p14-${i}`, backend.port);
      const answered = performance.now();
      if (r.status >= 300) throw new Error(`P14: registration ${i} answered ${r.status}`);
      served.push(await untilServes(e.httpPort, hostOf(`p14-${i}`), 10_000));
      const got = await poll;
      delivered.push(got.at - answered);
      have = got.hash;
    }
    const fmt = (xs: number[]) =>
      `p50 ${round(median(xs))} ms, p99 ${round(percentile(xs, 99))} ms, max ${round(Math.max(...xs))} ms`;
    return {
      rows: [
        {
          id: 'P14',
          measure: 'write on replica A → an edge following replica B serves it, p99',
          value: round(percentile(served, 99)),
          unit: 'ms',
          goal: { op: '<=', value: 150 },
          detail: `${WRITES} registrations of new hosts on A, from A's answer to the edge's first 200: ${fmt(served)}`,
        },
        {
          id: 'P14',
          measure: "write on replica A → B answers an edge's long-poll with it, p99",
          value: round(percentile(delivered, 99)),
          unit: 'ms',
          goal: { op: '<=', value: 100 },
          detail:
            `the same writes, from A's answer to B's answer to a second node's long-poll (issue 15: within 100 ms;` +
            ` below 0: B answered before A's answer reached the client): ${fmt(delivered)}`,
        },
      ],
      notes: [],
      data: { writes: WRITES, served, delivered },
    };
  } finally {
    await edge?.stop().catch(() => undefined);
    await Promise.all(rs.map((r) => r.stop().catch(() => undefined)));
    await pgc?.stop();
  }
}
