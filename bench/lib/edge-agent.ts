import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { disown, disownDir, own, ownDir, stopChild } from './cleanup.js';
import { freePort, httpRequest } from './http.js';
import { sleep } from './stats.js';

// dist/bench/lib/edge-agent.js → <repo>/bin/gatehouse.js
const BIN = fileURLToPath(new URL('../../../bin/gatehouse.js', import.meta.url));

/** `gatehouse edge` in its own process and temp dir, its nginx on a loopback port. */
export interface BenchEdge {
  proc: ChildProcess;
  httpPort: number;
  /** SIGTERM (the agent stops its nginx), then its nginx master should it be left; removes the dir. */
  stop(): Promise<void>;
}

export async function startBenchEdge(control: string, token: string): Promise<BenchEdge> {
  const dir = await mkdtemp(join(tmpdir(), 'gh-bench-edge-'));
  ownDir(dir);
  const httpPort = await freePort();
  const proc = spawn(
    process.execPath,
    [
      ...[BIN, 'edge', '--control', control, '--node-token', token, '--edge-dir', dir],
      ...['--edge-http-port', String(httpPort), '--edge-https-port', '0', '--log-level', 'error'],
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  if (proc.pid !== undefined) own(proc.pid);
  const nginxPid = async () =>
    Number((await readFile(join(dir, 'nginx', 'run', 'nginx.pid'), 'utf8').catch(() => '')).trim());
  return {
    proc,
    httpPort,
    async stop() {
      const pid = await nginxPid();
      if (pid > 0) own(pid);
      await stopChild(proc);
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGQUIT');
          for (let i = 0; i < 250; i++) {
            process.kill(pid, 0);
            await sleep(20);
          }
        } catch {
          // gone
        }
        disown(pid);
      }
      await rm(dir, { recursive: true, force: true, maxRetries: 2 });
      disownDir(dir);
    },
  };
}

/** Milliseconds until `host` answers 200 through nginx on `port` (a fresh connection every ~2 ms). */
export async function untilServes(port: number, host: string, giveUpMs: number): Promise<number> {
  const t0 = performance.now();
  while ((await httpRequest(port, { host, timeoutMs: 2000 }).catch(() => undefined))?.status !== 200) {
    if (performance.now() - t0 > giveUpMs) throw new Error(`${host} not served after ${giveUpMs} ms`);
    await sleep(2);
  }
  return performance.now() - t0;
}
