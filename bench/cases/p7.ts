import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodeStore } from '../../src/edge/nodes.js';
import type { BenchContext } from '../lib/context.js';
import { disownDir, own, ownDir, stopChild } from '../lib/cleanup.js';
import { hostOf, seedSimple, startBenchGatehouse, type BenchGatehouse } from '../lib/gatehouse.js';
import { freePort, httpRequest } from '../lib/http.js';
import { childrenOf } from '../lib/procmem.js';
import type { CaseResult } from '../lib/report.js';
import { median, percentile, round, sleep } from '../lib/stats.js';

// dist/bench/cases/p7.js → <repo>/bin/gatehouse.js
const BIN = fileURLToPath(new URL('../../../bin/gatehouse.js', import.meta.url));
const ROUTES = 1_000;
const COLD_STARTS = 5;
const CHANGES = 100;
/** Registrations before the timed ones: the first after a start run cold code (JIT) on both sides. */
const WARMUP = 5;

interface Edge {
  proc: ChildProcess;
  dir: string;
  httpPort: number;
}

function startEdge(control: string, token: string, dir: string, httpPort: number): Edge {
  const proc = spawn(
    process.execPath,
    [
      BIN,
      'edge',
      '--control',
      control,
      '--node-token',
      token,
      '--edge-dir',
      dir,
      '--edge-http-port',
      String(httpPort),
      '--edge-https-port',
      '0',
      '--log-level',
      'error',
    ],
    { stdio: 'ignore' },
  );
  if (proc.pid !== undefined) own(proc.pid);
  return { proc, dir, httpPort };
}

/** The edge's nginx master, or 0. */
async function nginxPid(dir: string): Promise<number> {
  return Number((await readFile(join(dir, 'nginx', 'run', 'nginx.pid'), 'utf8').catch(() => '')).trim());
}

/** The agent stops its nginx with it; should it not, the nginx pid is owned too. */
async function stopEdge(e: Edge): Promise<void> {
  const pid = await nginxPid(e.dir);
  if (pid) own(pid);
  await stopChild(e.proc);
}

async function untilServes(port: number, host: string, giveUpMs: number): Promise<number> {
  const t0 = performance.now();
  while ((await httpRequest(port, { host, timeoutMs: 2000 }).catch(() => undefined))?.status !== 200) {
    if (performance.now() - t0 > giveUpMs) throw new Error(`${host} not served after ${giveUpMs} ms`);
    await sleep(2);
  }
  return performance.now() - t0;
}

/**
 * P7: an edge node (its own process and nginx) restarted while the control plane is unreachable,
 * from spawn to its first 200, serving from its encrypted state cache (1k routes).
 * P10: propagation from the control plane to a remote edge: a registration's change reaching an
 * edge's long-poll (delivery), and the edge serving it (a change to its nginx's shared memory when
 * only the fast lane changed).
 */
export async function p7(ctx: BenchContext): Promise<CaseResult> {
  const backend = await ctx.backend();
  const bg = await startBenchGatehouse();
  const dir = await mkdtemp(join(tmpdir(), 'gh-bench-edge-'));
  ownDir(dir);
  let edge: Edge | undefined;
  try {
    await seedSimple(bg, 'p7', ROUTES, backend.port);
    const { token, probeToken } = await enrol(bg);
    const apiPort = Number(/:(\d+)$/.exec(bg.gh.addresses.api)?.[1]);
    const control = `http://127.0.0.1:${apiPort}`;
    const httpPort = await freePort();
    edge = startEdge(control, token, dir, httpPort);
    await untilServes(httpPort, hostOf(`p7-${ROUTES - 1}`), 60_000);
    await stopEdge(edge);

    // P7: the control plane is "down" for the edge (a port nothing listens on).
    const dead = `http://127.0.0.1:${await freePort()}`;
    const cold: number[] = [];
    for (let i = 0; i < COLD_STARTS; i++) {
      const t0 = performance.now();
      edge = startEdge(dead, token, dir, httpPort);
      await untilServes(httpPort, hostOf(`p7-${ROUTES - 1}`), 20_000);
      cold.push(performance.now() - t0);
      await stopEdge(edge);
    }

    // P10: the edge connected again; each change timed at the protocol (a second long-poll client with
    // the same node token, as an agent does) and at the edge's nginx.
    edge = startEdge(control, token, dir, httpPort);
    await untilServes(httpPort, hostOf(`p7-${ROUTES - 1}`), 20_000);
    // It first serves from its cache; the changes are timed once it has caught up with the control
    // plane (its report names the current config), so the first one does not include that catch-up.
    await untilInSync(bg, apiPort, probeToken, 20_000);
    const delivery: number[] = [];
    const served: number[] = [];
    const edgeNginx = await nginxPid(dir);
    const workersBefore = childrenOf(edgeNginx).sort().join(',');
    let have = await currentHash(apiPort, probeToken);
    for (let i = -WARMUP; i < CHANGES; i++) {
      const poll = longPoll(apiPort, probeToken, have);
      await sleep(20);
      const t0 = performance.now();
      const sub = i < 0 ? `p10-warm${-i}` : `p10-${i}`;
      const r = await bg.register(sub, backend.port);
      if (r.status >= 300) throw new Error(`P10: registration failed (${r.status})`);
      const body = await poll;
      have = body.hash;
      await untilServes(httpPort, hostOf(sub), 10_000);
      if (i >= 0) {
        delivery.push(body.at - t0);
        served.push(performance.now() - t0);
      }
      await bg.settle();
    }
    const reloaded = childrenOf(edgeNginx).sort().join(',') !== workersBefore;
    await stopEdge(edge);
    edge = undefined;
    const fmt = (xs: number[]) =>
      `p50 ${round(median(xs))} ms, p99 ${round(percentile(xs, 99))} ms, max ${round(Math.max(...xs))} ms`;
    return {
      rows: [
        {
          id: 'P7',
          measure: `edge cold start from cache, control plane down (${ROUTES} routes), max`,
          value: round(Math.max(...cold)),
          unit: 'ms',
          goal: { op: '<=', value: 2000 },
          detail: `${COLD_STARTS} starts of the agent process: ${cold.map((x) => round(x)).join(', ')} ms (spawn → first 200)`,
        },
        {
          id: 'P10',
          measure: `change → remote edge has it, p99 (${ROUTES} routes)`,
          value: round(percentile(delivery, 99), 1),
          unit: 'ms',
          goal: { op: '<=', value: 100 },
          detail: `${CHANGES} registrations (after ${WARMUP} untimed), from POST /register to the long-poll's answer: ${fmt(delivery)}`,
        },
        {
          id: 'P10',
          measure: `change → remote edge serves it, p99 (${ROUTES} routes)`,
          value: round(percentile(served, 99)),
          unit: 'ms',
          goal: { op: '<=', value: 100 },
          detail:
            `from POST /register to the edge's first 200: ${fmt(served)};` +
            ` the edge's nginx workers ${reloaded ? 'were replaced (a reload)' : 'stayed the same (no reload)'}`,
        },
      ],
      notes: [],
      data: { cold, delivery, served },
    };
  } finally {
    if (edge) await stopEdge(edge).catch(() => undefined);
    await bg.close();
    await rm(dir, { recursive: true, force: true });
    disownDir(dir);
  }
}

/** The agent's node, and a second one for the bench's own long-polls (same role, same config). */
async function enrol(bg: BenchGatehouse): Promise<{ token: string; probeToken: string }> {
  const nodes = new NodeStore(bg.gh.db);
  const { token } = await nodes.add({ name: 'bench-edge', role: 'public' });
  const probe = await nodes.add({ name: 'bench-probe', role: 'public' });
  return { token, probeToken: probe.token };
}

/** Waits until the agent's node reports the config the control plane serves its role now. */
async function untilInSync(
  bg: BenchGatehouse,
  apiPort: number,
  probeToken: string,
  giveUpMs: number,
): Promise<void> {
  const nodes = new NodeStore(bg.gh.db);
  const t0 = performance.now();
  for (;;) {
    const want = await currentHash(apiPort, probeToken);
    const node = (await nodes.list()).find((n) => n.name === 'bench-edge');
    if (node?.applied_hash === want) return;
    if (performance.now() - t0 > giveUpMs)
      throw new Error(`P10: the edge did not catch up in ${giveUpMs} ms`);
    await sleep(20);
  }
}

async function currentHash(apiPort: number, token: string): Promise<string> {
  const r = await httpRequest(apiPort, {
    path: '/edge/v1/config?wait=0',
    headers: { authorization: `Bearer ${token}` },
  });
  return (JSON.parse(r.body) as { hash: string }).hash;
}

/** One long-poll as an agent makes it; resolves with the new hash and when it arrived. */
async function longPoll(apiPort: number, token: string, have: string): Promise<{ hash: string; at: number }> {
  const r = await httpRequest(apiPort, {
    path: `/edge/v1/config?have=${have}&wait=25`,
    headers: { authorization: `Bearer ${token}` },
    timeoutMs: 30_000,
  });
  const at = performance.now();
  if (r.status !== 200) throw new Error(`P10: long-poll answered ${r.status}`);
  return { hash: (JSON.parse(r.body) as { hash: string }).hash, at };
}
