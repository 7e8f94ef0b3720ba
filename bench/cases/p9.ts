import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCa, https } from '../../test/helpers/tls.js';
import type { BenchContext } from '../lib/context.js';
import { BASE_DOMAIN, hostOf, startBenchGatehouse } from '../lib/gatehouse.js';
import { freePort } from '../lib/http.js';
import type { CaseResult } from '../lib/report.js';
import { percentile, round } from '../lib/stats.js';

const HOSTS = 40;

/**
 * P9: a new host registered under the base domain's wildcard certificate, from POST /register to
 * its first successful HTTPS response. No new order is needed: only the usual apply.
 */
export async function p9(ctx: BenchContext): Promise<CaseResult> {
  const backend = await ctx.backend();
  const httpsPort = await freePort();
  const bg = await startBenchGatehouse({ https_port: httpsPort });
  const caDir = await mkdtemp(join(tmpdir(), 'gh-bench-ca-'));
  try {
    const ca = makeCa(caDir);
    const wildcard = ca.issue([`*.${BASE_DOMAIN}`, BASE_DOMAIN]);
    await bg.gh.certs.upload(wildcard.cert, wildcard.key);
    await bg.gh.edge.refresh();
    const ms: number[] = [];
    let failures = 0;
    for (let i = 0; i < HOSTS; i++) {
      const sub = `p9-${i}`;
      const t0 = performance.now();
      const r = await bg.register(sub, backend.port);
      if (r.status >= 300) throw new Error(`P9: registration failed (${r.status})`);
      for (;;) {
        const res = await https(httpsPort, hostOf(sub), '/', ca.ca).catch(() => undefined);
        if (res?.status === 200) break;
        if (performance.now() - t0 > 10_000) {
          failures++;
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      ms.push(performance.now() - t0);
    }
    const certs = (await bg.gh.certs.list()).length;
    const apply = bg.gh.edge.getStatus().lastApplyMs;
    const applyText = apply
      ? `; last apply ${Math.round(apply.total)} ms (nginx -t ${Math.round(apply.test)}, reload ${Math.round(apply.reload)})`
      : '';
    return {
      rows: [
        {
          id: 'P9',
          measure: 'new host under the wildcard: register → first HTTPS 200, p99',
          value: round(percentile(ms, 99), 1),
          unit: 'ms',
          goal: { op: '<=', value: 200 },
          detail: `p50 ${round(percentile(ms, 50), 1)} ms, max ${round(Math.max(...ms), 1)} ms; ${HOSTS} hosts one after another; certificates: ${certs}${applyText}`,
        },
      ],
      notes: failures > 0 ? [`P9: ${failures} hosts did not answer over HTTPS within 10 s`] : [],
      data: { ms },
    };
  } finally {
    await bg.close();
    await rm(caDir, { recursive: true, force: true });
  }
}
