import type { BenchContext } from '../lib/context.js';
import { hostOf, proxyGet, seedSimple, startBenchGatehouse, type BenchGatehouse } from '../lib/gatehouse.js';
import type { CaseResult } from '../lib/report.js';
import { round } from '../lib/stats.js';
import { alternate, errorCount, medianRps, pairedRatio, type WrkTarget } from '../lib/wrk.js';

const ROUNDS = 8;
const SECONDS = 3;
const LAST = 'p2-last';

/** Registers `p2-last` through the API, so it is the last-registered host, and waits until it is live. */
async function registerLast(bg: BenchGatehouse, backendPort: number): Promise<void> {
  const res = await bg.register(LAST, backendPort);
  if (res.status !== 201 && res.status !== 200) throw new Error(`P2: register answered ${res.status}`);
  await bg.settle();
  const status = await proxyGet(bg, hostOf(LAST));
  if (status !== 200) throw new Error(`P2: ${hostOf(LAST)} answers ${status}`);
}

/**
 * P2: req/s for the last-registered host when 10,000 routes are registered ÷ the same with 10.
 * Two Gatehouses side by side (the shared bulk one, and a small one started here), loaded in turn.
 */
export async function p2(ctx: BenchContext): Promise<CaseResult> {
  const backend = await ctx.backend();
  const big = await ctx.bulkGatehouse();
  await seedSimple(big, 'bulk', 10_000, backend.port);
  await registerLast(big, backend.port);
  const small = await startBenchGatehouse();
  try {
    await seedSimple(small, 'bulk', 9, backend.port);
    await registerLast(small, backend.port);
    const bigRoutes = big.gh.registry.list().length;
    const smallRoutes = small.gh.registry.list().length;
    const targets: WrkTarget[] = [
      { name: `routes-${bigRoutes}`, port: big.httpPort, host: hostOf(LAST) },
      { name: `routes-${smallRoutes}`, port: small.httpPort, host: hostOf(LAST) },
    ];
    const runs = await alternate(targets, ROUNDS, SECONDS);
    const [bigName, smallName] = targets.map((t) => t.name) as [string, string];
    const errors = targets.reduce((n, t) => n + errorCount(runs.get(t.name) ?? []), 0);
    return {
      rows: [
        {
          id: 'P2',
          measure: `last host, ${bigRoutes} routes ÷ ${smallRoutes} routes`,
          value: round(pairedRatio(runs, bigName, smallName), 3),
          unit: 'ratio',
          goal: { op: '>=', value: 0.95 },
          detail: `${Math.round(medianRps(runs, bigName))} / ${Math.round(medianRps(runs, smallName))} req/s (medians); ${ROUNDS}×${SECONDS}s`,
        },
      ],
      notes: errors > 0 ? [`P2: ${errors} errors (non-2xx or socket) under load`] : [],
      data: { rounds: ROUNDS, seconds: SECONDS, bigRoutes, smallRoutes, runs: Object.fromEntries(runs) },
    };
  } finally {
    await small.close();
  }
}
