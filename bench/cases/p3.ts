import type { BenchContext } from '../lib/context.js';
import { hostOf, proxyGet, seedSimple, type BenchGatehouse } from '../lib/gatehouse.js';
import type { CaseResult, Row } from '../lib/report.js';
import { median, percentile, round, sleep } from '../lib/stats.js';

/** Registrations already present, how many samples to take there, and the p99 goal. */
const STEPS = [
  { routes: 1_000, samples: 30, goalMs: 20 },
  { routes: 10_000, samples: 20, goalMs: 20 },
] as const;
const POLL_MS = 2;
const GIVE_UP_MS = 30_000;

interface Sample {
  /** How long POST /register took to answer. */
  postMs: number;
  /** From the POST's answer to the first 200 through nginx for the new host. */
  liveMs: number;
  /** The apply that made it live, as Gatehouse timed it. */
  apply?: { render: number; test: number; reload: number; total: number };
  /** What it sent nginx (a patch of the table, the whole table, a reload) and where its time went. */
  sent?: string;
  stages?: { wait: number; compile: number; render: number; file: number; send: number };
}

/**
 * Polls with a fresh connection each time: a kept-alive one could sit on an old worker, which keeps
 * the old config until it closes its connections.
 */
async function untilLive(bg: BenchGatehouse, host: string): Promise<void> {
  const deadline = performance.now() + GIVE_UP_MS;
  while ((await proxyGet(bg, host).catch(() => 0)) !== 200) {
    if (performance.now() > deadline) throw new Error(`P3: ${host} not live after ${GIVE_UP_MS} ms`);
    await sleep(POLL_MS);
  }
}

async function sample(bg: BenchGatehouse, subdomain: string, backendPort: number): Promise<Sample> {
  const t0 = performance.now();
  const res = await bg.register(subdomain, backendPort);
  const t1 = performance.now();
  if (res.status !== 201) throw new Error(`P3: register ${subdomain} answered ${res.status}`);
  await untilLive(bg, hostOf(subdomain));
  const t2 = performance.now();
  // Start the next sample from a quiet Gatehouse: the apply may still be finishing after the 200.
  await bg.settle();
  const st = bg.gh.edge.getStatus();
  return {
    postMs: t1 - t0,
    liveMs: t2 - t1,
    apply: st.lastApplyMs,
    ...(st.lastApplySent ? { sent: st.lastApplySent } : {}),
    ...(st.lastApplyStages ? { stages: st.lastApplyStages } : {}),
  };
}

function rows(routes: number, goalMs: number, samples: Sample[]): Row[] {
  const live = samples.map((s) => s.liveMs);
  const post = samples.map((s) => s.postMs);
  const sentToLive = samples.map((s) => s.postMs + s.liveMs);
  const n = `${samples.length} samples`;
  const id = `P3 ${routes / 1000}k`;
  return [
    {
      id,
      measure: `register→200, p50, ${routes} routes`,
      value: round(median(live)),
      unit: 'ms',
      detail:
        `${n}; from sending the POST: p50 ${round(median(sentToLive))} ms,` +
        ` p99 ${round(percentile(sentToLive, 99))} ms`,
    },
    {
      id,
      measure: `register→200, p99, ${routes} routes`,
      value: round(percentile(live, 99)),
      unit: 'ms',
      goal: { op: '<=', value: goalMs },
      detail: `${n}, nearest rank (= max)`,
    },
    {
      id,
      measure: 'POST /register answer time, p50',
      value: round(median(post), 1),
      unit: 'ms',
      detail: `p99 ${round(percentile(post, 99), 1)} ms (before the clock above starts)`,
    },
  ];
}

/** P3: time from `POST /register` answering to the first 200 for the new host, at 1k and 10k routes. */
export async function p3(ctx: BenchContext): Promise<CaseResult> {
  const backend = await ctx.backend();
  const bg = await ctx.bulkGatehouse();
  const out: CaseResult = { rows: [], notes: [], data: {} };
  for (const step of STEPS) {
    await seedSimple(bg, 'bulk', step.routes, backend.port);
    const samples: Sample[] = [];
    for (let i = 0; i < step.samples; i++) {
      samples.push(await sample(bg, `p3-${step.routes}-${i}`, backend.port));
    }
    out.rows.push(...rows(step.routes, step.goalMs, samples));
    out.data[`routes${step.routes}`] = samples;
    const applies = samples.flatMap((s) => (s.apply ? [s.apply] : []));
    if (applies.length > 0) {
      const m = (f: (a: NonNullable<Sample['apply']>) => number) => round(median(applies.map(f)));
      out.notes.push(
        `P3 ${step.routes} routes: median apply ${m((a) => a.total)} ms = render ${m((a) => a.render)}` +
          ` + nginx -t ${m((a) => a.test)} + reload (or, without one, state file + send) ${m((a) => a.reload)}`,
      );
    }
    const staged = samples.flatMap((s) => (s.stages ? [s.stages] : []));
    if (staged.length > 0) {
      const q = (f: (a: NonNullable<Sample['stages']>) => number) =>
        `${round(median(staged.map(f)), 1)}/${round(percentile(staged.map(f), 99), 1)}`;
      const sent = new Map<string, number>();
      for (const s of samples) sent.set(s.sent ?? '?', (sent.get(s.sent ?? '?') ?? 0) + 1);
      out.notes.push(
        `P3 ${step.routes} routes: stages p50/p99 ms: wait ${q((a) => a.wait)}, compile ${q((a) => a.compile)},` +
          ` render ${q((a) => a.render)}, file ${q((a) => a.file)}, send ${q((a) => a.send)};` +
          ` sent ${[...sent].map(([k, v]) => `${k} ×${v}`).join(', ')}`,
      );
    }
  }
  return out;
}
