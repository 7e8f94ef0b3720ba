import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchContext } from '../lib/context.js';
import {
  BASE_DOMAIN,
  NGINX_WORKERS,
  proxyGet,
  simpleService,
  startBenchGatehouse,
  type BenchGatehouse,
} from '../lib/gatehouse.js';
import { startHandNginx } from '../lib/hand-nginx.js';
import type { CaseResult, Row } from '../lib/report.js';
import {
  alternate,
  errorCount,
  type WrkResult,
  type WrkTarget,
  ratioRow as sharedRatioRow,
} from '../lib/wrk.js';

const ROUNDS = 8;
const SECONDS = 3;
export const FAST_HOST = `p1-fast.${BASE_DOMAIN}`;
export const FULL_HOST = `p1-full.${BASE_DOMAIN}`;
/** Issue 14's figure for every route type against the hand-written upstream with keepalive. */
const GOAL = 0.95;

/**
 * Two services on one backend: a `simple` registration, which Gatehouse renders in the "fast lane"
 * (a line in nginx's shared-memory table, served through a Lua balancer with keepalive), and a service with a second route, which gets its own server block and upstream
 * blocks with keepalive. The second route is never requested; it only changes the rendering.
 */
export async function addServices(bg: BenchGatehouse, backendPort: number): Promise<void> {
  const upstreams = [`127.0.0.1:${backendPort}`];
  const meta = { actor: 'bench', source: 'api' } as const;
  await bg.gh.registry.apply([{ kind: 'put', service: simpleService('p1-fast', backendPort) }], meta);
  await bg.gh.registry.put(
    {
      name: 'p1-full',
      hosts: [FULL_HOST],
      routes: [
        { path: '/', upstreams },
        { path: '/other/', upstreams },
      ],
    },
    meta,
  );
  await bg.settle();
}

/** The figures only mean something if each service took the lane we think it took. */
export async function checkLanes(bg: BenchGatehouse): Promise<void> {
  const current = join(bg.gh.settings.data_dir, 'nginx', 'current');
  const conf = await readFile(join(current, 'nginx.conf'), 'utf8');
  // The fast lane's table (in nginx's shared memory, loaded from this file): one host per line.
  const table = (await readFile(join(current, 'fast-lane.tsv'), 'utf8'))
    .split('\n')
    .map((l) => l.split('\t')[0]);
  if (!table.includes(FAST_HOST)) throw new Error(`P1: ${FAST_HOST} is not in the fast lane's table`);
  const ownServer = new RegExp(`server_name "?${FULL_HOST.replace(/\./g, '\\.')}"?;`);
  if (table.includes(FULL_HOST) || !ownServer.test(conf)) {
    throw new Error(`P1: ${FULL_HOST} does not have its own server block`);
  }
  for (const host of [FAST_HOST, FULL_HOST]) {
    const status = await proxyGet(bg, host);
    if (status !== 200) throw new Error(`P1: ${host} answers ${status} through Gatehouse`);
  }
}

function ratioRow(
  id: string,
  measure: string,
  runs: Map<string, WrkResult[]>,
  num: string,
  den: string,
): Row {
  return sharedRatioRow(id, measure, runs, num, den, GOAL, { rounds: ROUNDS, seconds: SECONDS });
}

/** P1: req/s through Gatehouse's routes ÷ req/s through hand-written nginx, measured alternately. */
export async function p1(ctx: BenchContext): Promise<CaseResult> {
  const backend = await ctx.backend();
  const bg = await startBenchGatehouse();
  const hand = await startHandNginx({ backendPort: backend.port, workers: NGINX_WORKERS }).catch(
    async (err: unknown) => {
      await bg.close();
      throw err;
    },
  );
  try {
    await addServices(bg, backend.port);
    await checkLanes(bg);
    // Ordered so that the pairs P1a and P1c compare are neighbours in every round (see `alternate`).
    const targets: WrkTarget[] = [
      { name: 'nginx-minimal', port: hand.minimalPort, host: 'localhost' },
      { name: 'gatehouse-fast', port: bg.httpPort, host: FAST_HOST },
      { name: 'nginx-forwarding', port: hand.forwardingPort, host: 'localhost' },
      { name: 'gatehouse-full', port: bg.httpPort, host: FULL_HOST },
      { name: 'nginx-keepalive', port: hand.keepalivePort, host: 'localhost' },
      { name: 'nginx-keepalive-headers', port: hand.headersPort, host: 'localhost' },
    ];
    const runs = await alternate(targets, ROUNDS, SECONDS);
    const notes = targets
      .map((t) => [t.name, errorCount(runs.get(t.name) ?? [])] as const)
      .filter(([, n]) => n > 0)
      .map(([name, n]) => `P1: ${name} saw ${n} errors (non-2xx or socket) under load`);
    return {
      rows: [
        ratioRow('P1a', 'fast lane ÷ nginx minimal', runs, 'gatehouse-fast', 'nginx-minimal'),
        ratioRow(
          'P1a2',
          'fast lane ÷ nginx minimal + forwarding headers',
          runs,
          'gatehouse-fast',
          'nginx-forwarding',
        ),
        ratioRow('P1b', 'fast lane ÷ nginx upstream+keepalive', runs, 'gatehouse-fast', 'nginx-keepalive'),
        // The same yardstick with Gatehouse's proxy headers: what remains is the Lua routing.
        ratioRow(
          'P1b2',
          "fast lane ÷ nginx upstream+keepalive + Gatehouse's proxy headers",
          runs,
          'gatehouse-fast',
          'nginx-keepalive-headers',
        ),
        ratioRow(
          'P1c',
          '2-route service ÷ nginx upstream+keepalive',
          runs,
          'gatehouse-full',
          'nginx-keepalive',
        ),
        ratioRow(
          'P1c2',
          "2-route service ÷ nginx upstream+keepalive + Gatehouse's proxy headers",
          runs,
          'gatehouse-full',
          'nginx-keepalive-headers',
        ),
      ],
      notes,
      data: { rounds: ROUNDS, seconds: SECONDS, runs: Object.fromEntries(runs) },
    };
  } finally {
    await hand.stop();
    await bg.close();
  }
}
