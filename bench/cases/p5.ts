import { Agent } from 'node:http';
import { isRecord } from '../lib/child.js';
import type { BenchContext } from '../lib/context.js';
import { hostOf, REGISTER_TOKEN, startBenchGatehouse, type BenchGatehouse } from '../lib/gatehouse.js';
import { httpRequest, mapLimit, parseJson } from '../lib/http.js';
import { runRegisterLoad, type LoadResult } from '../lib/register-load.js';
import type { CaseResult, Row } from '../lib/report.js';
import { round } from '../lib/stats.js';

const CLIENTS = 32;
const SECONDS = 5;

/** Subdomains GET /routes lists. */
async function listedSubdomains(bg: BenchGatehouse): Promise<Set<string>> {
  const res = await httpRequest(bg.registerPort, {
    path: '/routes',
    headers: { authorization: `Bearer ${REGISTER_TOKEN}` },
    timeoutMs: 60_000,
  });
  const list = parseJson(res.body);
  if (res.status !== 200 || !Array.isArray(list)) throw new Error(`P5: GET /routes answered ${res.status}`);
  return new Set(
    list.flatMap((r: unknown) => (isRecord(r) && typeof r.subdomain === 'string' ? [r.subdomain] : [])),
  );
}

/**
 * Which of `subdomains` answer 200 through nginx. Every one is checked, 16 at a time, over keep-alive
 * connections opened after the final apply (so they are on workers with the final config).
 */
async function servingSubdomains(bg: BenchGatehouse, subdomains: string[]): Promise<Set<string>> {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  try {
    const ok = await mapLimit(subdomains, 16, (s) =>
      httpRequest(bg.httpPort, { host: hostOf(s), agent }).then(
        (r) => r.status === 200,
        () => false,
      ),
    );
    return new Set(subdomains.filter((_, i) => ok[i]));
  } finally {
    agent.destroy();
  }
}

interface Figures {
  load: LoadResult;
  /** Registrations attempted: every answer, whatever its status, plus connection failures. */
  attempted: number;
  listed: number;
  missing: string[];
  serving: number;
  /** Answered 2xx, listed by GET /routes and answering 200 through nginx. */
  verified: number;
  /** From the last registration's answer until nginx served the final registry version. */
  settleMs: number;
  /** The registry's group commits during the load: transactions, and versions in them. */
  commits: { batches: number; items: number; largest: number };
  /** Configs applied to nginx from the start of the load until the final one. */
  applies: number;
}

async function measure(bg: BenchGatehouse, backendPort: number, newConnection: boolean): Promise<Figures> {
  const c0 = bg.gh.registry.commitStats;
  const a0 = bg.gh.edge.getStatus().applies;
  const load = await runRegisterLoad({
    registerPort: bg.registerPort,
    token: REGISTER_TOKEN,
    clients: CLIENTS,
    seconds: SECONDS,
    prefix: newConnection ? 'p5n' : 'p5k',
    backendPort,
    newConnection,
  });
  const c1 = bg.gh.registry.commitStats;
  const t0 = performance.now();
  await bg.settle();
  const settleMs = performance.now() - t0;
  const listed = await listedSubdomains(bg);
  const serving = await servingSubdomains(bg, load.landed);
  return {
    load,
    attempted: Object.values(load.statuses).reduce((a, b) => a + b, 0),
    listed: listed.size,
    missing: load.landed.filter((s) => !listed.has(s)),
    serving: serving.size,
    verified: load.landed.filter((s) => listed.has(s) && serving.has(s)).length,
    settleMs,
    commits: { batches: c1.batches - c0.batches, items: c1.items - c0.items, largest: c1.largest },
    applies: bg.gh.edge.getStatus().applies - a0,
  };
}

function rows(f: Figures, newConnection: boolean): Row[] {
  const { load } = f;
  const how = newConnection ? 'a new connection each' : 'keep-alive';
  const secs = load.elapsedMs / 1000;
  const lat = `POST p50 ${round(load.latencyMs.p50, 1)} ms, p99 ${round(load.latencyMs.p99, 1)} ms`;
  const { batches, items, largest } = f.commits;
  const group = `${batches} transactions (${round(batches ? items / batches : 0, 1)} a transaction, at most ${largest})`;
  return [
    {
      id: 'P5',
      measure: `registrations/s, ${CLIENTS} clients, ${how}`,
      value: Math.round(load.landed.length / secs),
      unit: 'reg/s',
      ...(newConnection ? { goal: { op: '>=' as const, value: 1000 } } : {}),
      detail:
        `${load.landed.length} of ${f.attempted} answered 2xx in ${round(secs, 2)} s; ${lat}; ${group};` +
        ' clients in a process of their own',
    },
    {
      id: 'P5',
      measure: `share of attempts listed and serving 200 (${how})`,
      value: round(f.attempted === 0 ? 0 : f.verified / f.attempted, 4),
      unit: 'ratio',
      goal: { op: '>=', value: 1 },
      detail:
        `${f.listed} listed, ${f.serving} answer 200;` +
        ` final apply live ${Math.round(f.settleMs)} ms after the last answer; ${f.applies} applies`,
    },
  ];
}

function notes(f: Figures): string[] {
  const out: string[] = [];
  if (f.attempted !== f.load.landed.length)
    out.push(`P5: answers by status ${JSON.stringify(f.load.statuses)}`);
  if (f.missing.length > 0) {
    out.push(
      `P5: ${f.missing.length} answered 2xx but not in GET /routes, e.g. ${f.missing.slice(0, 3).join(', ')}`,
    );
  }
  return out;
}

function summary(f: Figures): Record<string, unknown> {
  const { landed, ...load } = f.load;
  return { ...f, load: { ...load, landed: landed.length } };
}

/**
 * P5: registrations per second sustained by concurrent clients (in their own process), with a new
 * connection per registration and then with keep-alive connections, each followed by proof that
 * every one landed: listed by GET /routes and served by nginx after the final apply.
 */
export async function p5(ctx: BenchContext): Promise<CaseResult> {
  const backend = await ctx.backend();
  const bg = await startBenchGatehouse();
  try {
    // New connections first (the goal, as an agent registers itself), then keep-alive clients.
    const fresh = await measure(bg, backend.port, true);
    const kept = await measure(bg, backend.port, false);
    return {
      rows: [...rows(fresh, true), ...rows(kept, false)],
      notes: [...notes(fresh), ...notes(kept)],
      data: { clients: CLIENTS, seconds: SECONDS, newConnection: summary(fresh), keepAlive: summary(kept) },
    };
  } finally {
    await bg.close();
  }
}
