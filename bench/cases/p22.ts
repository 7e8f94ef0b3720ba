import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCrowdsec, type Crowdsec } from '../../test/helpers/crowdsec.js';
import { NodeStore } from '../../src/edge/nodes.js';
import type { BenchContext } from '../lib/context.js';
import { disownDir, ownDir } from '../lib/cleanup.js';
import { startBenchEdge, untilServes, type BenchEdge } from '../lib/edge-agent.js';
import { BASE_DOMAIN, startBenchGatehouse, type BenchGatehouse } from '../lib/gatehouse.js';
import type { CaseResult } from '../lib/report.js';
import { percentile, round, sleep } from '../lib/stats.js';

const DECISIONS = 20;
const GOAL_MS = 10_000;
const HOST = `p22.${BASE_DOMAIN}`;

/** The status an edge answers a request from `from` (a loopback address) with. */
function statusFrom(port: number, from: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        headers: { host: HOST },
        localAddress: from,
        agent: false,
        timeout: 2000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** ms from `t0` until both edges refuse `from` (asked every ~20 ms), or Infinity after `max`. */
async function untilRefused(ports: number[], from: string, t0: number, max: number): Promise<number> {
  const left = new Set(ports);
  for (;;) {
    for (const p of [...left]) if ((await statusFrom(p, from)) === 403) left.delete(p);
    if (left.size === 0) return performance.now() - t0;
    if (performance.now() - t0 > max) return Infinity;
    await sleep(20);
  }
}

/**
 * P22 (issue 19): a decision made in CrowdSec (`cscli decisions add --ip`, a real Local API) until
 * every edge refuses that address: the control plane's own nginx and an edge agent (`gatehouse
 * edge`, its own process and nginx). Gatehouse asks the Local API at its default interval (2 s);
 * the edge gets the list in its long-poll. Timed from just before cscli runs.
 */
export async function p22(ctx: BenchContext): Promise<CaseResult> {
  const backend = await ctx.backend();
  const dir = await mkdtemp(join(tmpdir(), 'gh-p22-'));
  ownDir(dir);
  let cs: Crowdsec | undefined;
  let bg: BenchGatehouse | undefined;
  let edge: BenchEdge | undefined;
  try {
    const logFile = join(dir, 'acquis.log');
    await writeFile(logFile, '');
    cs = await startCrowdsec({ logFile });
    bg = await startBenchGatehouse({ crowdsec_url: cs.url, crowdsec_api_key: cs.bouncerKey });
    await bg.gh.registry.put(
      { name: 'p22', hosts: [HOST], routes: [{ path: '/', upstreams: [`127.0.0.1:${backend.port}`] }] },
      { actor: 'bench', source: 'api' },
    );
    await bg.settle();
    const { token } = await new NodeStore(bg.gh.db).add({ name: 'bench-p22-edge', role: 'public' });
    const apiPort = Number(/:(\d+)$/.exec(bg.gh.addresses.api)?.[1]);
    edge = await startBenchEdge(`http://127.0.0.1:${apiPort}`, token);
    await untilServes(edge.httpPort, HOST, 60_000);
    const ports = [bg.httpPort, edge.httpPort];
    const took: number[] = [];
    for (let i = 0; i < DECISIONS; i++) {
      const from = `127.0.1.${10 + i}`;
      if ((await statusFrom(bg.httpPort, from)) !== 200)
        throw new Error(`P22: ${from} is refused before any decision`);
      // Not in step with the poll: each decision lands somewhere in its interval.
      await sleep(137 * (i % 7));
      const t0 = performance.now();
      await cs.cscli(['decisions', 'add', '--ip', from, '--duration', '10m', '--reason', 'bench']);
      took.push(await untilRefused(ports, from, t0, 30_000));
    }
    const fmt = `p50 ${round(percentile(took, 50))} ms, p99 ${round(percentile(took, 99))} ms, max ${round(Math.max(...took))} ms`;
    return {
      rows: [
        {
          id: 'P22',
          measure: 'decision made in CrowdSec → refused on every edge, p99',
          value: round(percentile(took, 99)),
          unit: 'ms',
          goal: { op: '<=', value: GOAL_MS },
          detail: `${DECISIONS} decisions (cscli decisions add --ip), from just before cscli until the local nginx and an edge agent both answer 403; Local API asked every 2 s (the default): ${fmt}`,
        },
      ],
      notes: [],
      data: { took },
    };
  } finally {
    await edge?.stop();
    await bg?.close();
    await cs?.close();
    await rm(dir, { recursive: true, force: true });
    disownDir(dir);
  }
}
