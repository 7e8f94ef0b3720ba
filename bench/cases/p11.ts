import { Dockerd } from '../../test/helpers/dockerd.js';
import type { BenchContext } from '../lib/context.js';
import { BASE_DOMAIN, hostOf, proxyGet, startBenchGatehouse } from '../lib/gatehouse.js';
import type { CaseResult } from '../lib/report.js';
import { percentile, round, sleep } from '../lib/stats.js';

const CONTAINERS = 20;

/**
 * P11: a labelled container started → its route live through nginx (first 200), one container after
 * another, against a real dockerd in a network namespace (test/helpers/dockerd.ts). The start is the
 * daemon's own record of it (State.StartedAt, same clock), so the figure is Gatehouse's part: the
 * event, one container read, the registry write and the nginx reload.
 */
export async function p11(_ctx: BenchContext): Promise<CaseResult> {
  const dk = await Dockerd.start('p11');
  const notes: string[] = [];
  const ms: number[] = [];
  const runMs: number[] = [];
  try {
    const bg = await startBenchGatehouse({ docker_endpoint: dk.endpoint });
    try {
      for (let i = 0; i < CONTAINERS; i++) {
        const name = `p11-${i}`;
        const t0 = Date.now();
        await dk.run(name, {
          labels: {
            'gatehouse.enable': 'true',
            'gatehouse.domain': hostOf(name),
            'gatehouse.port': '80',
            'gatehouse.auth': 'none',
          },
        });
        runMs.push(Date.now() - t0);
        let live: number | undefined;
        while (live === undefined && Date.now() - t0 < 10_000) {
          if ((await proxyGet(bg, hostOf(name)).catch(() => 0)) === 200) live = Date.now();
          else await sleep(5);
        }
        const started = Date.parse(await dk.docker(['inspect', '-f', '{{.State.StartedAt}}', name]));
        if (live === undefined) notes.push(`P11: ${name} was not live within 10 s`);
        else ms.push(live - started);
      }
    } finally {
      await bg.close();
    }
  } finally {
    await dk.close();
  }
  if (ms.length === 0) throw new Error('P11: no container went live');
  return {
    rows: [
      {
        id: 'P11',
        measure: 'docker: container started → its route live through nginx, p99',
        value: round(percentile(ms, 99)),
        unit: 'ms',
        goal: { op: '<=', value: 500 },
        detail: `p50 ${round(percentile(ms, 50))} ms, max ${round(Math.max(...ms))} ms; ${CONTAINERS} containers one after another under ${BASE_DOMAIN}; docker run itself p50 ${round(percentile(runMs, 50))} ms`,
      },
    ],
    notes,
    data: { ms, runMs },
  };
}
