/**
 * `npm run bench [-- P1 P3 …]`: Gatehouse's performance goals, each a figure measured side by side in
 * one run (the machine is noisy, so absolute numbers from different runs are not comparable). Prints a
 * table and writes bench/results/latest.json. Benchmarks, not tests: CI does not run them.
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { BenchContext } from './lib/context.js';
import { formatTable, passes, writeJson, type CaseResult, type Row } from './lib/report.js';

type Case = (ctx: BenchContext) => Promise<CaseResult>;

/**
 * In running order: P3 grows the shared Gatehouse to 1k then 10k routes, P2 and P8 reuse the 10k, and
 * P5 (its own Gatehouse) comes after P8 so its garbage is not in P8's node RSS; P6 (network
 * namespaces, keepalived) last, for the same reason. Each case is loaded when it runs: P8 measures
 * this process, which must not hold what later cases bring (playwright-core for P12 alone is
 * ~40 MB of RSS). R4 (its own Gatehouse, a 60 s soak) runs last.
 */
const CASES: Record<string, () => Promise<Case>> = {
  P1: async () => (await import('./cases/p1.js')).p1,
  P4: async () => (await import('./cases/p4.js')).p4,
  P9: async () => (await import('./cases/p9.js')).p9,
  P7: async () => (await import('./cases/p7.js')).p7,
  P3: async () => (await import('./cases/p3.js')).p3,
  P2: async () => (await import('./cases/p2.js')).p2,
  P8: async () => (await import('./cases/p8.js')).p8,
  P5: async () => (await import('./cases/p5.js')).p5,
  P6: async () => (await import('./cases/p6.js')).p6,
  P11: async () => (await import('./cases/p11.js')).p11,
  P12: async () => (await import('./cases/p12.js')).p12,
  R4: async () => (await import('./cases/r4.js')).r4,
  P13: async () => (await import('./cases/p13.js')).p13,
  // Issue 15's replica figures (its "P13" is P13R here: issue 14's P13 is TLS handshakes); each
  // starts its own PostgreSQL cluster and `gatehouse up` processes.
  P13R: async () => (await import('./cases/p13r.js')).p13r,
  P14: async () => (await import('./cases/p14.js')).p14,
  P15: async () => (await import('./cases/p15.js')).p15,
  P16: async () => (await import('./cases/p16.js')).p16,
  P17: async () => (await import('./cases/p17.js')).p17,
  P18: async () => (await import('./cases/p18.js')).p18,
  // Issue 18: traffic metrics and access logs on ÷ off.
  P19: async () => (await import('./cases/p19.js')).p19,
  // Issue 18: an upstream down → its alert at a local webhook.
  P20: async () => (await import('./cases/p20.js')).p20,
  // Issue 19: a public route with GeoIP on ÷ off (CrowdSec, the other half, is not built yet).
  P21: async () => (await import('./cases/p21.js')).p21,
  P22: async () => (await import('./cases/p22.js')).p22,
  // Issue 18: 10,000 req/s through a remote edge for 60 s → every access log line at the control plane.
  L1: async () => (await import('./cases/logs.js')).logs,
  // Issue 18: the access log store alone at 10,000 records a second.
  L2: async () => (await import('./cases/l2.js')).l2,
};

// dist/bench/run.js → <repo>/bench/results/latest.json
const RESULTS = fileURLToPath(new URL('../../bench/results/latest.json', import.meta.url));

function selected(argv: string[]): string[] {
  const wanted = argv.map((a) => a.toUpperCase());
  const unknown = wanted.filter((w) => !(w in CASES));
  if (unknown.length > 0) {
    throw new Error(`unknown benchmark ${unknown.join(', ')} (have: ${Object.keys(CASES).join(', ')})`);
  }
  return Object.keys(CASES).filter((id) => wanted.length === 0 || wanted.includes(id));
}

function environment(): Record<string, string | number> {
  // `nginx -v` answers on stderr.
  const nginx = spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr.trim();
  return { node: process.version, nginx, cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown' };
}

async function runAll(ids: string[], ctx: BenchContext): Promise<Record<string, CaseResult>> {
  const out: Record<string, CaseResult> = {};
  for (const id of ids) {
    const t0 = performance.now();
    process.stderr.write(`${id} …\n`);
    const run = await (CASES[id] as () => Promise<Case>)();
    out[id] = await run(ctx);
    process.stderr.write(`${id} done in ${Math.round((performance.now() - t0) / 1000)} s\n`);
  }
  return out;
}

async function main(): Promise<void> {
  const ids = selected(process.argv.slice(2));
  const ctx = new BenchContext();
  // Ctrl-C: stop what we started (nginx masters, backend) before going.
  process.once('SIGINT', () => void ctx.close().finally(() => process.exit(130)));
  const started = new Date().toISOString();
  let results: Record<string, CaseResult>;
  try {
    results = await runAll(ids, ctx);
  } finally {
    await ctx.close();
  }
  const rows: Row[] = Object.values(results).flatMap((r) => r.rows);
  const notes = Object.values(results).flatMap((r) => r.notes);
  console.log(formatTable(rows));
  if (notes.length > 0) console.log(['', 'notes:', ...notes.map((n) => `- ${n}`)].join('\n'));
  await writeJson(RESULTS, {
    started,
    finished: new Date().toISOString(),
    environment: environment(),
    rows: rows.map((r) => ({ ...r, pass: passes(r) })),
    notes,
    data: Object.fromEntries(Object.entries(results).map(([id, r]) => [id, r.data])),
  });
  console.log(`\nwritten to ${RESULTS}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
