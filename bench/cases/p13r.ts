import { Agent } from 'node:http';
import { isRecord } from '../lib/child.js';
import type { BenchContext } from '../lib/context.js';
import { hostOf, REGISTER_TOKEN } from '../lib/gatehouse.js';
import { httpRequest, mapLimit, parseJson } from '../lib/http.js';
import { startBenchPostgres, type BenchPostgres } from '../lib/postgres.js';
import { cpuSnapshot, cpuSpent, machineCpu } from '../lib/proc-cpu.js';
import { startBenchReplica, startBenchReplicas, type BenchReplica } from '../lib/replicas.js';
import type { CaseResult, Row } from '../lib/report.js';
import { runSpreadLoad, type SpreadResult } from '../lib/spread-load.js';
import { round, sleep } from '../lib/stats.js';

const CLIENTS = 48;
const SECONDS = 5;
/** How long the replicas get, after the load, to list and serve every registration. */
const CATCH_UP_MS = 60_000;

/** Subdomains a replica's GET /routes lists. */
async function listed(r: BenchReplica): Promise<Set<string>> {
  const res = await httpRequest(r.registerPort, {
    path: '/routes',
    headers: { authorization: `Bearer ${REGISTER_TOKEN}` },
    timeoutMs: 60_000,
  });
  const list = parseJson(res.body);
  if (res.status !== 200 || !Array.isArray(list)) throw new Error(`P13R: GET /routes answered ${res.status}`);
  return new Set(
    list.flatMap((x: unknown) => (isRecord(x) && typeof x.subdomain === 'string' ? [x.subdomain] : [])),
  );
}

/** Milliseconds until `r` lists every one of `want` (or CATCH_UP_MS), and how many it lists then. */
async function untilListed(
  r: BenchReplica,
  want: string[],
  t0: number,
): Promise<{ ms: number; have: number }> {
  for (;;) {
    const have = await listed(r);
    const n = want.filter((s) => have.has(s)).length;
    if (n === want.length || performance.now() - t0 > CATCH_UP_MS)
      return { ms: performance.now() - t0, have: n };
    await sleep(50);
  }
}

/**
 * Which of `subdomains` answer 200 through `r`'s nginx, asking again for those that do not yet until
 * CATCH_UP_MS; keep-alive connections opened after each pass's start, 16 at a time.
 */
async function untilServed(
  r: BenchReplica,
  subdomains: string[],
  t0: number,
): Promise<{ ms: number; serving: number }> {
  let missing = subdomains;
  for (;;) {
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    try {
      const ok = await mapLimit(missing, 16, (s) =>
        httpRequest(r.httpPort, { host: hostOf(s), agent }).then(
          (res) => res.status === 200,
          () => false,
        ),
      );
      missing = missing.filter((_, i) => !ok[i]);
    } finally {
      agent.destroy();
    }
    if (missing.length === 0 || performance.now() - t0 > CATCH_UP_MS)
      return { ms: performance.now() - t0, serving: subdomains.length - missing.length };
    await sleep(100);
  }
}

interface Figures {
  replicas: number;
  load: SpreadResult;
  attempted: number;
  /** Per replica: how many of the landed ones it lists, and when it listed them all (ms after the load). */
  listed: { name: string; have: number; ms: number }[];
  /** Through the last replica's nginx (the one that received the fewest of them directly, or the only one). */
  served: { name: string; serving: number; ms: number };
  verified: number;
  /** CPU ms per landed registration during the load: the replicas' Node processes, their nginx, PostgreSQL. */
  cpuPerReg: { gatehouse: number; nginx: number; postgres: number };
  /** The machine's busy share during the load (every process, other users' too), of all its cores. */
  machineBusy: number;
}

/** The processes whose CPU P13R counts: the replicas' Node processes, their nginx trees, PostgreSQL's. */
function snapshots(rs: BenchReplica[], pgPid: number) {
  return {
    gatehouse: cpuSnapshot(
      rs.map((r) => r.proc.pid ?? 0),
      false,
    ),
    nginx: cpuSnapshot(rs.map((r) => r.nginxPid)),
    postgres: cpuSnapshot([pgPid]),
    machine: machineCpu(),
  };
}

async function measure(
  rs: BenchReplica[],
  pgPid: number,
  backendPort: number,
  prefix: string,
): Promise<Figures> {
  const c0 = snapshots(rs, pgPid);
  const load = await runSpreadLoad({
    registerPorts: rs.map((r) => r.registerPort),
    token: REGISTER_TOKEN,
    clients: CLIENTS,
    seconds: SECONDS,
    prefix,
    backendPort,
  });
  const c1 = snapshots(rs, pgPid);
  const n = Math.max(1, load.landed.length);
  const per = (k: 'gatehouse' | 'nginx' | 'postgres') => round(cpuSpent(c0[k], c1[k]) / n, 2);
  const cpuPerReg = { gatehouse: per('gatehouse'), nginx: per('nginx'), postgres: per('postgres') };
  const m = {
    busy: c1.machine.busyMs - c0.machine.busyMs,
    total: c1.machine.totalMs - c0.machine.totalMs,
  };
  const t0 = performance.now();
  const lists = await Promise.all(rs.map((r) => untilListed(r, load.landed, t0)));
  const via = rs[rs.length - 1] as BenchReplica;
  const served = await untilServed(via, load.landed, t0);
  const everywhere = Math.min(...lists.map((l) => l.have));
  return {
    replicas: rs.length,
    load,
    attempted: Object.values(load.statuses).reduce((a, b) => a + b, 0),
    listed: lists.map((l, i) => ({ name: (rs[i] as BenchReplica).name, have: l.have, ms: round(l.ms) })),
    served: { name: via.name, serving: served.serving, ms: round(served.ms) },
    verified: Math.min(everywhere, served.serving),
    cpuPerReg,
    machineBusy: round(m.total > 0 ? m.busy / m.total : 0, 2),
  };
}

function rate(f: Figures): number {
  return Math.round(f.load.landed.length / (f.load.elapsedMs / 1000));
}

function detail(f: Figures): string {
  const { load } = f;
  const lat = `POST p50 ${round(load.latencyMs.p50, 1)} ms, p99 ${round(load.latencyMs.p99, 1)} ms`;
  const per = f.replicas > 1 ? `; per replica ${load.perPort.join(' / ')}` : '';
  const c = f.cpuPerReg;
  const cpu =
    `CPU ms a registration: gatehouse ${c.gatehouse}, nginx ${c.nginx}, PostgreSQL ${c.postgres};` +
    ` machine ${Math.round(f.machineBusy * 100)} % busy`;
  return `${load.landed.length} of ${f.attempted} answered 2xx in ${round(load.elapsedMs / 1000, 2)} s; ${lat}${per}; ${cpu}`;
}

function rows(one: Figures, three: Figures): Row[] {
  const lastListed = Math.max(...three.listed.map((l) => l.ms));
  return [
    {
      id: 'P13R',
      measure: `registrations/s, 3 replicas on one PostgreSQL, ${CLIENTS} clients spread, a new connection each`,
      value: rate(three),
      unit: 'reg/s',
      goal: { op: '>=', value: 2000 },
      detail: `${detail(three)}; clients in a process of their own`,
    },
    {
      id: 'P13R',
      measure: `baseline: registrations/s, 1 replica on PostgreSQL, ${CLIENTS} clients, a new connection each`,
      value: rate(one),
      unit: 'reg/s',
      detail: detail(one),
    },
    {
      id: 'P13R',
      measure: '3 replicas ÷ 1 replica (same run, same clients)',
      value: round(rate(one) === 0 ? 0 : rate(three) / rate(one), 3),
      unit: 'ratio',
      detail: `${rate(three)} / ${rate(one)} reg/s`,
    },
    {
      id: 'P13R',
      measure: "share of attempts listed by every replica's GET /routes and serving 200 (3 replicas)",
      value: round(three.attempted === 0 ? 0 : three.verified / three.attempted, 4),
      unit: 'ratio',
      goal: { op: '>=', value: 1 },
      detail:
        `listed: ${three.listed.map((l) => `${l.name} ${l.have}`).join(', ')} (all within ${lastListed} ms of the last answer);` +
        ` ${three.served.serving} answer 200 through ${three.served.name}'s nginx (${three.served.ms} ms)`,
    },
    {
      id: 'P13R',
      measure: 'share of attempts listed and serving 200 (1 replica)',
      value: round(one.attempted === 0 ? 0 : one.verified / one.attempted, 4),
      unit: 'ratio',
      goal: { op: '>=', value: 1 },
      detail: `${one.listed[0]?.have ?? 0} listed, ${one.served.serving} answer 200 (${one.served.ms} ms)`,
    },
  ];
}

function notes(f: Figures): string[] {
  const out: string[] = [];
  if (f.attempted !== f.load.landed.length)
    out.push(`P13R (${f.replicas} replicas): answers by status ${JSON.stringify(f.load.statuses)}`);
  return out;
}

function summary(f: Figures): Record<string, unknown> {
  const { landed, ...load } = f.load;
  return { ...f, load: { ...load, landed: landed.length } };
}

async function stopAll(rs: BenchReplica[]): Promise<void> {
  await Promise.all(rs.map((r) => r.stop().catch(() => undefined)));
}

/**
 * P13R (issue 15's "P13"; issue 14's P13 is TLS handshakes): registrations per second with three
 * `gatehouse up` replicas (own processes, data dirs, ports and nginx) on one PostgreSQL, the clients
 * (a process of their own, a new connection per registration) spread over them; then proof that
 * every one landed: listed by every replica's GET /routes and answering 200 through one replica's
 * nginx. The baseline, measured first in the same run with the same clients: one replica alone on
 * a database of the same cluster.
 */
export async function p13r(ctx: BenchContext): Promise<CaseResult> {
  const backend = await ctx.backend();
  let pgc: BenchPostgres | undefined;
  let rs: BenchReplica[] = [];
  try {
    pgc = await startBenchPostgres();
    rs = [await startBenchReplica({ name: 'solo', databaseUrl: await pgc.createDatabase() })];
    const one = await measure(rs, pgc.pid, backend.port, 'p13r1');
    await stopAll(rs);
    const url = await pgc.createDatabase();
    rs = await startBenchReplicas(['r1', 'r2', 'r3'].map((name) => ({ name, databaseUrl: url })));
    const three = await measure(rs, pgc.pid, backend.port, 'p13r3');
    return {
      rows: rows(one, three),
      notes: [...notes(one), ...notes(three)],
      data: { clients: CLIENTS, seconds: SECONDS, oneReplica: summary(one), threeReplicas: summary(three) },
    };
  } finally {
    await stopAll(rs);
    await pgc?.stop();
  }
}
