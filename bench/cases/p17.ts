import type { BenchContext } from '../lib/context.js';
import type { CaseResult, Row } from '../lib/report.js';
import { HOME_HOST, SiteBench } from '../lib/site-bench.js';
import { median, round, sleep } from '../lib/stats.js';

const CUTS = 5;
const OUTAGE_MS = 5000;
/** Give up on one restore after this long (the figure is then this, a MISS). */
const GIVE_UP_MS = 20_000;

/**
 * P17 (issue 16): the home router's WAN link set down (its default route goes with it) for
 * OUTAGE_MS, then restored; the time from the restore to the first 200 through the VPS edge and the
 * tunnel, polled every 50 ms with 1 s request timeouts, over CUTS cuts. Goal ≤ 5 s, stretch ≤ 2 s.
 */
export async function p17(_ctx: BenchContext): Promise<CaseResult> {
  const bench = await SiteBench.start();
  const times: number[] = [];
  const notes: string[] = [];
  try {
    for (let i = 0; i < CUTS; i++) {
      await bench.lab.cutHome();
      await sleep(1000);
      if ((await bench.get(HOME_HOST, 1000)).status === 200)
        notes.push(`P17 cut ${i + 1}: still 200 after the cut`);
      await sleep(OUTAGE_MS - 1000);
      await bench.lab.restoreHome();
      const t0 = performance.now();
      let ms = GIVE_UP_MS;
      while (performance.now() - t0 < GIVE_UP_MS) {
        if ((await bench.get(HOME_HOST, 1000)).status === 200) {
          ms = performance.now() - t0;
          break;
        }
        await sleep(50);
      }
      if (ms >= GIVE_UP_MS) notes.push(`P17 cut ${i + 1}: no 200 within ${GIVE_UP_MS} ms of the restore`);
      times.push(round(ms));
      await sleep(1000);
    }
  } finally {
    await bench.close();
  }
  const rows: Row[] = [
    {
      id: 'P17',
      measure: 'home link restored → first 200 through the tunnel (median)',
      value: median(times),
      unit: 'ms',
      goal: { op: '<=', value: 5000 },
      detail: `${CUTS} cuts of ${OUTAGE_MS / 1000} s: ${times.join(', ')} ms (stretch goal ≤ 2000 ms)`,
    },
    {
      id: 'P17',
      measure: 'home link restored → first 200 through the tunnel (worst)',
      value: Math.max(...times),
      unit: 'ms',
      goal: { op: '<=', value: 5000 },
      detail: `worst of ${CUTS}`,
    },
  ];
  return { rows, notes, data: { times, outageMs: OUTAGE_MS } };
}
