import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeStore } from '../../src/edge/nodes.js';
import type { BenchContext } from '../lib/context.js';
import { disownDir, ownDir } from '../lib/cleanup.js';
import { startBenchEdge, untilServes, type BenchEdge } from '../lib/edge-agent.js';
import { ADMIN_TOKEN, hostOf, seedSimple, startBenchGatehouse } from '../lib/gatehouse.js';
import { httpRequest } from '../lib/http.js';
import { childrenOf, mb, nginxTree, procMem } from '../lib/procmem.js';
import type { CaseResult } from '../lib/report.js';
import { round, sleep } from '../lib/stats.js';
import { parseWrk, type WrkResult } from '../lib/wrk.js';

const NODE = 'bench-logs-edge';
const SERVICE = 'logs-0';
/** Load time (s) and rate (req/s; 0: as fast as wrk goes). */
const SECONDS = Number(process.env.GATEHOUSE_BENCH_LOGS_S ?? 60);
const RATE = Number(process.env.GATEHOUSE_BENCH_LOGS_RATE ?? 10_000);
const CONNECTIONS = 64;
/**
 * Node flags for the edge agent alone. By default bin/gatehouse.js's shebang flag, which the bench's
 * `node bin/gatehouse.js` would not have: the agent runs as `bin/gatehouse.js edge` does.
 */
const EDGE_NODE_OPTIONS = process.env.GATEHOUSE_BENCH_LOGS_EDGE_NODE_OPTIONS ?? '--max-semi-space-size=2';
const SAMPLE_MS = 5000;
/** How long the counts may take to settle after the load (the edge flushes every second). */
const SETTLE_MS = 120_000;
/** After the counts settled: the edge idles this long (s) before its memory's last sample. */
const IDLE_S = Number(process.env.GATEHOUSE_BENCH_LOGS_IDLE_S ?? 30);

interface MemSample {
  t: number;
  agentRss: number;
  nginxPss: number;
}

const THREADS = 2;

/**
 * wrk has no fixed rate (wrk2's -R is not installed): a script gives wrk's delay() a schedule, as
 * wrk2 does. Each wrk thread hands its requests slots 1/(RATE/THREADS) s apart on the monotonic
 * clock (LuaJIT's ffi, clock_gettime) and a connection waits for its slot; behind schedule it sends
 * at once (a debt of more than 1 s is forgiven, so a stall is not followed by a burst). What wrk
 * achieved is reported, whatever was asked.
 */
async function paceScript(dir: string): Promise<string | undefined> {
  if (RATE <= 0) return undefined;
  const file = join(dir, 'pace.lua');
  await writeFile(
    file,
    [
      'local ffi = require("ffi")',
      'ffi.cdef[[',
      'typedef struct { long tv_sec; long tv_nsec; } gh_timespec;',
      'int clock_gettime(int clk, gh_timespec *tp);',
      ']]',
      'local ts = ffi.new("gh_timespec")',
      'local function now_ms()',
      '  ffi.C.clock_gettime(1, ts)',
      '  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6',
      'end',
      `local interval = ${(THREADS * 1000) / RATE}`,
      'local nxt = nil',
      'function delay()',
      '  local t = now_ms()',
      '  if nxt == nil or nxt < t - 1000 then nxt = t end',
      '  local d = nxt - t',
      '  nxt = nxt + interval',
      '  if d < 0 then return 0 end',
      '  return d',
      'end',
      '',
    ].join('\n'),
  );
  return file;
}

function runPacedWrk(port: number, host: string, script: string | undefined): Promise<WrkResult> {
  const args = [
    `-t${THREADS}`,
    `-c${CONNECTIONS}`,
    `-d${SECONDS}s`,
    '-H',
    `Host: ${host}`,
    ...(script ? ['-s', script] : []),
    `http://127.0.0.1:${port}/`,
  ];
  return new Promise((resolve, reject) => {
    execFile('wrk', args, { timeout: (SECONDS + 30) * 1000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`wrk: ${err.message} ${stderr}`.trim()));
      try {
        resolve(parseWrk(stdout));
      } catch (e) {
        reject(new Error(`wrk: ${(e as Error).message}\n${stdout}`));
      }
    });
  });
}

/** The edge agent's nginx master (its child), or 0. */
function edgeNginx(agentPid: number): number {
  for (const pid of childrenOf(agentPid)) {
    try {
      if (procMem(pid).name.startsWith('nginx: master')) return pid;
    } catch {
      // gone
    }
  }
  return 0;
}

function sample(t0: number, agentPid: number): MemSample {
  const nginx = edgeNginx(agentPid);
  const nginxPss = nginx ? nginxTree(nginx).reduce((n, p) => n + p.pssBytes, 0) : 0;
  return { t: Math.round((performance.now() - t0) / 1000), agentRss: procMem(agentPid).rssBytes, nginxPss };
}

/** Lines in a file (0 when there is none). */
async function countLines(file: string): Promise<number> {
  let n = 0;
  try {
    for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) n++;
    }
  } catch {
    return 0;
  }
  return n;
}

/**
 * Lines the edge's nginx wrote: its access.log and the one rotated away (the agent renames it to
 * access.log.1 past 100 MB, every 5 s at most; the edge dir is new, so there was none before).
 * Right while it rotated at most once, which `rotations` tells.
 */
async function linesWritten(file: string): Promise<number> {
  return (await countLines(`${file}.1`)) + (await countLines(file));
}

/** The access log's inode (a new one: rotated). */
async function inode(file: string): Promise<number> {
  return (await stat(file).catch(() => undefined))?.ino ?? 0;
}

/** `metric{…node="NODE"…service="SERVICE"…} value` summed over the series. */
function sumSeries(text: string, metric: string): number {
  let n = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    if (!line.includes(`node="${NODE}"`) || !line.includes(`service="${SERVICE}"`)) continue;
    n += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return n;
}

async function controlCounts(apiPort: number): Promise<{ stored: number; metric: number }> {
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const a = await httpRequest(apiPort, {
    path: `/api/v1/analytics?window=1h&service=${SERVICE}`,
    headers: auth,
    timeoutMs: 60_000,
  });
  if (a.status !== 200) throw new Error(`L1: analytics answered ${a.status}: ${a.body.slice(0, 200)}`);
  const m = await httpRequest(apiPort, { path: '/metrics', headers: auth, timeoutMs: 30_000 });
  if (m.status !== 200) throw new Error(`L1: /metrics answered ${m.status}`);
  return {
    stored: (JSON.parse(a.body) as { requests: number }).requests,
    metric: sumSeries(m.body, 'gatehouse_http_requests_total'),
  };
}

/**
 * L1 (issue 18, "Logs"): a control plane and a remote edge (its own agent process and nginx), one
 * public service on the edge; wrk drives the edge at RATE req/s for SECONDS s. Then, once the edge
 * has flushed: requests wrk completed, lines in the edge's access log, records the control plane's
 * log store holds for the service (GET /api/v1/analytics) and its traffic counter on /metrics
 * (node=<edge>). The edge agent's RSS and its nginx's PSS are sampled every 5 s.
 */
export async function logs(ctx: BenchContext): Promise<CaseResult> {
  const backend = await ctx.backend();
  const bg = await startBenchGatehouse({ access_log_max_rows: 10_000_000, access_log_max_mb: 4096 });
  const dir = await mkdtemp(join(tmpdir(), 'gh-bench-logs-'));
  ownDir(dir);
  let edge: BenchEdge | undefined;
  try {
    await seedSimple(bg, 'logs', 1, backend.port);
    const { token } = await new NodeStore(bg.gh.db).add({ name: NODE, role: 'public' });
    const apiPort = Number(/:(\d+)$/.exec(bg.gh.addresses.api)?.[1]);
    // GATEHOUSE_BENCH_LOGS_EDGE_NODE_OPTIONS: node flags for the edge agent alone (its heap's sizing).
    const saved = process.env.NODE_OPTIONS;
    if (EDGE_NODE_OPTIONS) process.env.NODE_OPTIONS = EDGE_NODE_OPTIONS;
    try {
      edge = await startBenchEdge(`http://127.0.0.1:${apiPort}`, token);
    } finally {
      if (saved === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = saved;
    }
    const host = hostOf(SERVICE);
    await untilServes(edge.httpPort, host, 60_000);
    const agentPid = edge.proc.pid ?? 0;
    const nginxPid = edgeNginx(agentPid);
    const logFile = (await readCmdPrefix(nginxPid)) + '/logs/access.log';
    // The probes above are in the log too: counted from here on.
    await sleep(3000);
    const base = await controlCounts(apiPort);
    const baseLines = await linesWritten(logFile);
    // Rotations seen (the inode changed between two samples); checked every second.
    let ino = await inode(logFile);
    let rotations = 0;
    const watch = setInterval(() => {
      void inode(logFile).then((i) => {
        if (i !== 0 && i !== ino) rotations++;
        if (i !== 0) ino = i;
      });
    }, 1000);

    const t0 = performance.now();
    const mem: MemSample[] = [sample(t0, agentPid)];
    const timer = setInterval(() => mem.push(sample(t0, agentPid)), SAMPLE_MS);
    let wrk: WrkResult;
    try {
      wrk = await runPacedWrk(edge.httpPort, host, await paceScript(dir));
    } finally {
      clearInterval(timer);
    }
    clearInterval(watch);
    mem.push(sample(t0, agentPid));
    const loadEnd = performance.now();

    // The edge flushes every second; the counts settle when the control plane has every line.
    let lines = 0;
    let now = base;
    let stable = 0;
    for (const t = performance.now(); performance.now() - t < SETTLE_MS;) {
      await sleep(1000);
      lines = (await linesWritten(logFile)) - baseLines;
      const next = await controlCounts(apiPort);
      const same = next.stored === now.stored && next.metric === now.metric;
      now = next;
      const [st, me] = [now.stored - base.stored, now.metric - base.metric];
      if (st >= lines && me >= lines && st === me) break;
      stable = same ? stable + 1 : 0;
      if (stable >= 10) break;
    }
    const settleS = round((performance.now() - loadEnd) / 1000, 1);
    mem.push(sample(t0, agentPid));
    // Does the memory go back down once the load is over (V8 shrinks its heap when idle)?
    for (let i = 0; i < IDLE_S; i += SAMPLE_MS / 1000) {
      await sleep(SAMPLE_MS);
      mem.push(sample(t0, agentPid));
    }
    const stored = now.stored - base.stored;
    const metric = now.metric - base.metric;
    const start = mem[0] as MemSample;
    const end = mem[mem.length - 1] as MemSample;
    const peakRss = Math.max(...mem.map((s) => s.agentRss));
    const peakPss = Math.max(...mem.map((s) => s.nginxPss));
    const paced =
      RATE > 0 ? `paced at ${RATE} req/s (wrk, ${CONNECTIONS} connections, a schedule)` : 'unpaced';
    return {
      rows: [
        {
          id: 'L1',
          measure: `edge load, achieved rate (${SECONDS} s, ${paced})`,
          value: Math.round(wrk.rps),
          unit: 'req/s',
          // wrk's count includes its start: 99 % of the rate asked is the rate.
          goal: { op: '>=', value: Math.round((RATE > 0 ? RATE : 10_000) * 0.99) },
          detail: `${wrk.requests} requests completed, ${wrk.non2xx} non-2xx, ${wrk.socketErrors} socket errors`,
        },
        {
          id: 'L1',
          measure: 'access log records at the control plane ÷ lines the edge nginx wrote',
          value: round(stored / Math.max(1, lines), 5),
          unit: 'ratio',
          goal: { op: '>=', value: 1 },
          detail: `${stored} records (GET /api/v1/analytics), ${lines} lines in the edge's access.log (rotated ${rotations}×, ${rotations <= 1 ? 'counted in .1 too' : 'NOT all counted: .1 replaced'}), ${wrk.requests} wrk completed; settled ${settleS} s after the load`,
        },
        {
          id: 'L1',
          measure: `traffic counter node="${NODE}" ÷ lines the edge nginx wrote`,
          value: round(metric / Math.max(1, lines), 5),
          unit: 'ratio',
          goal: { op: '>=', value: 1 },
          detail: `${metric} on /metrics (gatehouse_http_requests_total)`,
        },
        {
          id: 'L1',
          measure: 'edge agent RSS: peak − start',
          value: mb(peakRss - start.agentRss),
          unit: 'MB',
          goal: { op: '<=', value: 64 },
          detail:
            `start ${mb(start.agentRss)}, peak ${mb(peakRss)}, end ${mb(end.agentRss)} MB (${IDLE_S} s after the counts settled)` +
            ` (every 5 s: ${mem.map((s) => mb(s.agentRss)).join(', ')});` +
            ` edge nginx PSS start ${mb(start.nginxPss)}, peak ${mb(peakPss)}, end ${mb(end.nginxPss)} MB`,
        },
        {
          id: 'L1',
          measure: `edge agent RSS: end (${IDLE_S} s idle after the load) − start`,
          value: mb(end.agentRss - start.agentRss),
          unit: 'MB',
          // "end ≈ start": within 16 MB.
          goal: { op: '<=', value: 16 },
          detail: `edge nginx PSS end − start: ${mb(end.nginxPss - start.nginxPss)} MB`,
        },
      ],
      notes: EDGE_NODE_OPTIONS ? [`L1: the edge agent ran with NODE_OPTIONS=${EDGE_NODE_OPTIONS}`] : [],
      data: { seconds: SECONDS, rate: RATE, wrk, lines, rotations, stored, metric, settleS, mem },
    };
  } finally {
    await edge?.stop().catch(() => undefined);
    await bg.close();
    await rm(dir, { recursive: true, force: true });
    disownDir(dir);
  }
}

/** nginx's prefix (`-p DIR`) from its master's command line. */
async function readCmdPrefix(pid: number): Promise<string> {
  // nginx rewrites its title: `nginx: master process nginx -p DIR …`, one string.
  const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split(/[\0 ]+/);
  const i = argv.indexOf('-p');
  if (i < 0 || !argv[i + 1]) throw new Error(`L1: no -p in the edge nginx's command line: ${argv.join(' ')}`);
  return (argv[i + 1] as string).replace(/\/$/, '');
}
