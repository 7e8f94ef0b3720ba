import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { disown, disownDir, own, ownDir, stopChild } from './cleanup.js';
import { isRecord } from './child.js';
import { BASE_DOMAIN, REGISTER_TOKEN, ADMIN_TOKEN, NGINX_WORKERS } from './gatehouse.js';
import { freePort, httpRequest, parseJson, postJson } from './http.js';
import { sleep } from './stats.js';

// dist/bench/lib/replicas.js → <repo>/bin/gatehouse.js
const BIN = fileURLToPath(new URL('../../../bin/gatehouse.js', import.meta.url));
const SECRET = 'bench-replica-secret-0123456789';

/** One pino line of a replica's log (JSON on stderr). */
export interface LogLine {
  msg?: string;
  time?: number;
}

/** A `gatehouse up` process, one replica of a control plane on PostgreSQL. */
export interface BenchReplica {
  name: string;
  proc: ChildProcess;
  apiPort: number;
  httpPort: number;
  registerPort: number;
  /** Its nginx master's PID when it had started (0 if unknown). */
  nginxPid: number;
  /** Its log lines as they come (only at `logLevel` and above). */
  lines: LogLine[];
  /** `GET /api/v1/status` with the admin token (parsed, unchecked beyond being an object). */
  status(): Promise<Record<string, unknown>>;
  /** A management API call with the admin token. */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }>;
  /** POST /register with the register token on a fresh connection. */
  register(subdomain: string, backendPort: number): Promise<{ status: number; json: unknown }>;
  /** SIGKILL and wait for the exit (its nginx stays: `stop` reaps it). */
  kill(): Promise<void>;
  /** SIGTERM (if running), then its nginx master if a kill left it behind; removes its data dir. */
  stop(): Promise<void>;
}

export interface ReplicaOptions {
  name: string;
  databaseUrl: string;
  /** pino level; `info` for the leader's log lines (P15), `warn` otherwise. */
  logLevel?: string;
}

/**
 * Starts a replica as an operator runs one: `gatehouse up` (built dist) with the shared database URL
 * and GATEHOUSE_SECRET, its own data dir and loopback ports, the bench's admin and register tokens.
 * Resolves once its API answers /healthz. The process, its nginx master and its data dir are owned
 * (cleanup.ts) until stopped.
 */
export async function startBenchReplica(o: ReplicaOptions): Promise<BenchReplica> {
  const dataDir = await mkdtemp(join(tmpdir(), `gh-bench-replica-${o.name}-`));
  ownDir(dataDir);
  const [apiPort, httpPort, registerPort] = [await freePort(), await freePort(), await freePort()];
  // BENCH_CPU_PROF=<dir>: each replica writes a V8 CPU profile there as it exits (node --cpu-prof).
  const prof = process.env.BENCH_CPU_PROF;
  const profArgs = prof
    ? ['--cpu-prof', '--cpu-prof-dir', prof, '--cpu-prof-name', `${o.name}-${Date.now()}.cpuprofile`]
    : [];
  const proc = spawn(
    process.execPath,
    [
      ...profArgs,
      ...[BIN, 'up', '--data-dir', dataDir, '--http-port', String(httpPort), '--https-port', '0'],
      ...['--api-listen', `127.0.0.1:${apiPort}`, '--register-listen', `127.0.0.1:${registerPort}`],
      ...['--log-level', o.logLevel ?? 'warn'],
    ],
    {
      env: {
        ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_'))),
        GATEHOUSE_DATABASE_URL: o.databaseUrl,
        GATEHOUSE_SECRET: SECRET,
        GATEHOUSE_ADMIN_TOKEN: ADMIN_TOKEN,
        GATEHOUSE_REGISTER_TOKEN: REGISTER_TOKEN,
        GATEHOUSE_BASE_DOMAIN: BASE_DOMAIN,
        GATEHOUSE_REPLICA_NAME: o.name,
        GATEHOUSE_NGINX_WORKERS: String(NGINX_WORKERS),
        GATEHOUSE_LOG_FORMAT: 'json',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  if (proc.pid !== undefined) own(proc.pid);
  const lines: LogLine[] = [];
  let buf = '';
  proc.stderr?.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    for (const l of parts) {
      const j = parseJson(l);
      if (isRecord(j)) lines.push(j as LogLine);
      else if (l.trim()) process.stderr.write(`[${o.name}] ${l}\n`);
    }
  });
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await httpRequest(apiPort, {
      method,
      path,
      headers: body === undefined ? auth : { ...auth, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      timeoutMs: 10_000,
    });
    return { status: res.status, json: parseJson(res.body) };
  };
  const nginxPidFile = join(dataDir, 'nginx', 'run', 'nginx.pid');
  const nginxPid = async () => Number((await readFile(nginxPidFile, 'utf8').catch(() => '')).trim());
  const running = () => proc.exitCode === null && proc.signalCode === null;
  let ownedNginx = 0;
  const r: BenchReplica = {
    name: o.name,
    proc,
    apiPort,
    httpPort,
    registerPort,
    nginxPid: 0,
    lines,
    api,
    async status() {
      const res = await api('GET', '/api/v1/status');
      if (res.status !== 200 || !isRecord(res.json))
        throw new Error(`${o.name}: status answered ${res.status}`);
      return res.json;
    },
    register: (subdomain, backendPort) =>
      postJson(
        registerPort,
        '/register',
        { subdomain, backend_ip: '127.0.0.1', backend_port: backendPort, type: 'simple' },
        { authorization: `Bearer ${REGISTER_TOKEN}` },
      ),
    async kill() {
      if (!running()) return;
      const exited = new Promise((res) => proc.once('exit', res));
      proc.kill('SIGKILL');
      await exited;
      if (proc.pid !== undefined) disown(proc.pid);
    },
    async stop() {
      const pid = (await nginxPid()) || ownedNginx;
      await stopChild(proc, 'SIGTERM', 15_000);
      if (pid > 0) {
        // Gatehouse stops its nginx on SIGTERM; after a SIGKILL the master is left: stop it.
        try {
          process.kill(pid, 'SIGQUIT');
          for (let i = 0; i < 500; i++) {
            process.kill(pid, 0);
            await sleep(20);
          }
        } catch {
          // gone
        }
        disown(pid);
      }
      if (ownedNginx > 0) disown(ownedNginx);
      await rm(dataDir, { recursive: true, force: true, maxRetries: 2 });
      disownDir(dataDir);
    },
  };
  const t0 = performance.now();
  for (;;) {
    if (!running()) throw new Error(`replica ${o.name} exited (${String(proc.exitCode)}) while starting`);
    const ok = await httpRequest(apiPort, { path: '/healthz', timeoutMs: 2000 }).catch(() => undefined);
    if (ok?.status === 200) break;
    if (performance.now() - t0 > 60_000) {
      await r.stop();
      throw new Error(`replica ${o.name} did not answer /healthz within 60 s`);
    }
    await sleep(50);
  }
  ownedNginx = await nginxPid();
  if (ownedNginx > 0) own(ownedNginx);
  r.nginxPid = ownedNginx;
  return r;
}

/** The replica's `replica` status part: whether it leads. */
export async function isLeading(r: BenchReplica): Promise<boolean> {
  const s = await r.status().catch(() => undefined);
  return isRecord(s?.replica) && s.replica.leading === true;
}

/** Its registry version and the version its nginx serves. */
export async function versions(r: BenchReplica): Promise<{ registry: number; applied: number }> {
  const s = await r.status();
  const edge = isRecord(s.edge) ? s.edge : {};
  return {
    registry: typeof s.version === 'number' ? s.version : -1,
    applied: typeof edge.appliedVersion === 'number' ? edge.appliedVersion : -1,
  };
}

/** Starts replicas together (one migrates an empty database, the others wait); all or none. */
export async function startBenchReplicas(opts: ReplicaOptions[]): Promise<BenchReplica[]> {
  const got = await Promise.allSettled(opts.map((o) => startBenchReplica(o)));
  const up = got.flatMap((g) => (g.status === 'fulfilled' ? [g.value] : []));
  const failed = got.find((g) => g.status === 'rejected');
  if (failed) {
    await Promise.all(up.map((r) => r.stop().catch(() => undefined)));
    throw failed.reason;
  }
  return up;
}
