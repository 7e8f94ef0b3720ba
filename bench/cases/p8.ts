import type { BenchContext } from '../lib/context.js';
import { seedSimple, type BenchGatehouse } from '../lib/gatehouse.js';
import { mb, nginxTree, type ProcMem } from '../lib/procmem.js';
import type { CaseResult } from '../lib/report.js';
import { sleep } from '../lib/stats.js';

const ROUTES = 10_000;
/** How long P8 leaves Gatehouse idle before its second reading. */
const SETTLE_MS = 60_000;

/**
 * nginx's tree once the reloads are over: old workers ("… is shutting down") still hold the previous
 * config and would be counted twice.
 */
async function settledNginx(bg: BenchGatehouse): Promise<ProcMem[]> {
  const pid = bg.gh.edge.getStatus().proxy.pid;
  if (pid === undefined) throw new Error('P8: nginx is not running');
  const deadline = Date.now() + 15_000;
  for (;;) {
    const tree = nginxTree(pid);
    if (!tree.some((p) => p.name.includes('shutting down')) || Date.now() > deadline) return tree;
    await sleep(100);
  }
}

/** A full collection first when node runs with --expose-gc, so garbage is not counted as use. */
function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
}

/** P8: memory of Gatehouse (this Node process) plus its nginx, with 10,000 routes registered. */
export async function p8(ctx: BenchContext): Promise<CaseResult> {
  const backend = await ctx.backend();
  const bg = await ctx.bulkGatehouse();
  await seedSimple(bg, 'bulk', ROUTES, backend.port);
  const tree = await settledNginx(bg);
  collectGarbage();
  const node = process.memoryUsage();
  const nginxRss = tree.reduce((n, p) => n + p.rssBytes, 0);
  const nginxPss = tree.reduce((n, p) => n + p.pssBytes, 0);
  const routes = bg.gh.registry.list().length;
  // Right after a burst of work V8 keeps the young generation at its grown size (2 × 16 MB
  // semi-spaces, empty after the collection above, still resident) and the old generation
  // fragmented; its memory reducer gives both back once the process is idle for a while (seen at
  // 25-40 s). The second reading is what a Gatehouse holding 10,000 routes costs when left alone.
  await sleep(SETTLE_MS);
  collectGarbage();
  const settled = process.memoryUsage();
  const settledTree = await settledNginx(bg);
  const settledPss = settledTree.reduce((n, p) => n + p.pssBytes, 0);
  const perProcess = tree.map(
    (p) => `${p.name.replace(/^nginx: /, '').split(' ')[0]} ${mb(p.rssBytes)}/${mb(p.pssBytes)}`,
  );
  return {
    rows: [
      {
        id: 'P8',
        measure: `memory, ${routes} routes: node RSS + nginx PSS`,
        value: mb(node.rss + nginxPss),
        unit: 'MB',
        goal: { op: '<=', value: 150 },
        detail: `node RSS ${mb(node.rss)} (heap used ${mb(node.heapUsed)} of ${mb(node.heapTotal)}, external ${mb(node.external)}) + nginx PSS ${mb(nginxPss)}`,
      },
      {
        id: 'P8',
        measure: 'memory, same, nginx counted by RSS',
        value: mb(node.rss + nginxRss),
        unit: 'MB',
        detail: `nginx RSS/PSS MB: ${perProcess.join(', ')}`,
      },
      {
        id: 'P8',
        measure: `memory, same, after ${SETTLE_MS / 1000} s idle: node RSS + nginx PSS`,
        value: mb(settled.rss + settledPss),
        unit: 'MB',
        detail: `node RSS ${mb(settled.rss)} (heap used ${mb(settled.heapUsed)} of ${mb(settled.heapTotal)}, external ${mb(settled.external)}) + nginx PSS ${mb(settledPss)}`,
      },
    ],
    notes: [],
    data: { routes, node, nginx: tree, settled: { node: settled, nginx: settledTree } },
  };
}
