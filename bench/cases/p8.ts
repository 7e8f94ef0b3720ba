import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchContext } from '../lib/context.js';
import { disown, disownDir, own, ownDir } from '../lib/cleanup.js';
import { ADMIN_TOKEN, BASE_DOMAIN, NGINX_WORKERS, REGISTER_TOKEN } from '../lib/gatehouse.js';
import { freePort, httpRequest, mapLimit, postJson } from '../lib/http.js';
import { childrenOf, mb, nginxTree, procMem, type ProcMem } from '../lib/procmem.js';
import type { CaseResult } from '../lib/report.js';
import { sleep } from '../lib/stats.js';

const ROUTES = 10_000;
/** How long P8 leaves Gatehouse idle before its second reading. */
const SETTLE_MS = 60_000;
/** The CLI as operators start it: its shebang carries Gatehouse's V8 flags. */
const GATEHOUSE_BIN = join(import.meta.dirname, '..', '..', '..', 'bin', 'gatehouse.js');

interface Reading {
  node: ProcMem;
  nginx: ProcMem[];
}

/** Gatehouse's process and its nginx, once no old worker ("… is shutting down") is left. */
async function read(pid: number): Promise<Reading> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const children = childrenOf(pid).map(procMem);
    const master = children.find((p) => p.name.startsWith('nginx: master'));
    if (!master) {
      const names = children.map((p) => p.name.slice(0, 60)).join('; ');
      throw new Error(`P8: gatehouse (pid ${pid}) runs no nginx (children: ${names || 'none'})`);
    }
    const nginx = nginxTree(master.pid);
    if (!nginx.some((p) => p.name.includes('shutting down')) || Date.now() > deadline)
      return { node: procMem(pid), nginx };
    await sleep(100);
  }
}

/**
 * Gatehouse by RSS: on its own machine nothing shares its pages (the node binary's among them, ~40
 * MB: its PSS here is lower only while other node processes run); nginx by PSS: its workers share
 * the master's pages, which RSS would count once per process.
 */
function total(r: Reading): number {
  return r.node.rssBytes + r.nginx.reduce((n, p) => n + p.pssBytes, 0);
}

function totalPss(r: Reading): number {
  return r.node.pssBytes + r.nginx.reduce((n, p) => n + p.pssBytes, 0);
}

function detail(r: Reading): string {
  const nginx = r.nginx.map((p) => `${p.name.replace(/^nginx: /, '').split(' ')[0]} ${mb(p.pssBytes)}`);
  return `gatehouse RSS ${mb(r.node.rssBytes)} PSS ${mb(r.node.pssBytes)}; nginx PSS ${nginx.join(', ')}`;
}

/**
 * P8: memory of a Gatehouse holding 10,000 routes, started as operators start it (`gatehouse up`,
 * its own process: the bench's code and load generators are not in the figure) plus its nginx,
 * counted by PSS (shared pages divided among the processes that map them). The routes arrive
 * through `POST /register`, as a SaaS operator's would.
 */
export async function p8(ctx: BenchContext): Promise<CaseResult> {
  const backend = await ctx.backend();
  const dataDir = await mkdtemp(join(tmpdir(), 'gh-bench-p8-'));
  ownDir(dataDir);
  const [httpPort, apiPort, registerPort] = [await freePort(), await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    GATEHOUSE_DATA_DIR: dataDir,
    GATEHOUSE_HTTP_PORT: String(httpPort),
    GATEHOUSE_HTTPS_PORT: '0',
    GATEHOUSE_API_LISTEN: `127.0.0.1:${apiPort}`,
    GATEHOUSE_REGISTER_LISTEN: `127.0.0.1:${registerPort}`,
    GATEHOUSE_ADMIN_TOKEN: ADMIN_TOKEN,
    GATEHOUSE_REGISTER_TOKEN: REGISTER_TOKEN,
    GATEHOUSE_BASE_DOMAIN: BASE_DOMAIN,
    GATEHOUSE_NGINX_WORKERS: String(NGINX_WORKERS),
    GATEHOUSE_LOG_LEVEL: 'warn',
  };
  const child: ChildProcess = spawn(GATEHOUSE_BIN, ['up'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const pid = child.pid;
  if (pid === undefined) throw new Error('P8: gatehouse did not start');
  own(pid);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  try {
    const register = (i: number) =>
      postJson(
        registerPort,
        '/register',
        { subdomain: `p8-${i}`, backend_ip: '127.0.0.1', backend_port: backend.port, type: 'simple' },
        { authorization: `Bearer ${REGISTER_TOKEN}` },
        agent,
      );
    const startBy = Date.now() + 60_000;
    for (;;) {
      const up = await register(0).catch(() => undefined);
      if (up?.status === 200 || up?.status === 201) break;
      if (Date.now() > startBy) throw new Error(`P8: gatehouse did not come up (${up?.status})`);
      await sleep(200);
    }
    const serves = async (host: string, by: number) => {
      for (;;) {
        const r = await httpRequest(httpPort, { host, timeoutMs: 5000 }).catch(() => undefined);
        if (r?.status === 200) return;
        if (Date.now() > by) throw new Error(`P8: ${host} does not answer (${r?.status})`);
        await sleep(100);
      }
    };
    await serves(`p8-0.${BASE_DOMAIN}`, Date.now() + 30_000);
    const idle = await read(pid);
    const t0 = Date.now();
    const statuses = await mapLimit(
      Array.from({ length: ROUTES - 1 }, (_, i) => i + 1),
      8,
      async (i) => (await register(i)).status,
    );
    const refused = statuses.filter((s) => s >= 300).length;
    if (refused > 0) throw new Error(`P8: ${refused} registrations refused`);
    const registerMs = Date.now() - t0;
    // The last registration serves: nginx holds all of them.
    await serves(`p8-${ROUTES - 1}.${BASE_DOMAIN}`, t0 + 120_000);
    const burst = await read(pid);
    // V8 keeps what the burst of 10,000 registrations grew (heap pages, the young generation) until
    // its memory reducer sees the process idle (25-40 s here): this is what holding them costs.
    await sleep(SETTLE_MS);
    const held = await read(pid);
    return {
      rows: [
        {
          id: 'P8',
          measure: `memory, ${ROUTES} routes held (${SETTLE_MS / 1000} s after they arrived): gatehouse RSS + nginx PSS`,
          value: mb(total(held)),
          unit: 'MB',
          goal: { op: '<=', value: 150 },
          detail: detail(held),
        },
        {
          id: 'P8',
          measure: 'memory, same, gatehouse counted by PSS too',
          value: mb(totalPss(held)),
          unit: 'MB',
          detail: 'node shares its binary with the other node processes running on this machine',
        },
        {
          id: 'P8',
          measure: `memory, same, right after ${ROUTES} registrations (${registerMs} ms): RSS + PSS`,
          value: mb(total(burst)),
          unit: 'MB',
          detail: detail(burst),
        },
        {
          id: 'P8',
          measure: 'memory, same Gatehouse with 1 route, before the registrations: RSS + PSS',
          value: mb(total(idle)),
          unit: 'MB',
          detail: detail(idle),
        },
      ],
      notes: [],
      data: { idle, burst, held, registerMs },
    };
  } finally {
    agent.destroy();
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(15_000)]);
    disown(pid);
    await rm(dataDir, { recursive: true, force: true });
    disownDir(dataDir);
  }
}
