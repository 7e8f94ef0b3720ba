import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Status } from '../../src/api/views/index.js';
import { alive } from './gatehouse.js';
import { Browser } from './browser.js';
import { freePort, http, json, until } from './net.js';
import { testDir } from './tmp.js';

const root = resolve(import.meta.dirname, '..', '..');
export const BIN = join(root, 'bin', 'gatehouse.js');
export const REPLICA_ADMIN = 'replica-admin-token-0123456789';
const SECRET = 'replica-test-secret-0123456789';

/** A `gatehouse up` process (built dist) as one replica of a control plane on PostgreSQL. */
export interface ReplicaProcess {
  name: string;
  proc: ChildProcess;
  dataDir: string;
  apiPort: number;
  httpPort: number;
  /** Its registration listener (register_listen). */
  registerPort: number;
  /** Its log lines (pino JSON on stderr), as they come. */
  lines: { msg?: string; time?: number }[];
  /** A management API call with the admin token. */
  api(method: string, path: string, body?: unknown): ReturnType<typeof json>;
  status(): Promise<Status>;
  /** SIGKILL and wait for the exit (its nginx stays: `stop` reaps it). */
  kill(): Promise<void>;
  /** SIGTERM (if running), then its nginx master, if a kill left it behind. */
  stop(): Promise<void>;
}

/** The environment without any GATEHOUSE_* a developer may have set. */
export function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_')));
}

/**
 * Starts a replica: one database URL and one GATEHOUSE_SECRET shared with the others, its own data
 * dir and loopback ports, `replica_name` = name. Resolves once its API answers.
 */
export async function startReplica(
  name: string,
  databaseUrl: string,
  /** More flags (a later flag wins over the defaults above) and environment for this replica. */
  extra: { args?: string[]; env?: Record<string, string> } = {},
): Promise<ReplicaProcess> {
  const dataDir = await testDir(`gh-replica-${name}-`);
  const [apiPort, httpPort, registerPort] = [await freePort(), await freePort(), await freePort()];
  const proc = spawn(
    process.execPath,
    [
      ...[BIN, 'up', '--data-dir', dataDir, '--http-port', String(httpPort), '--https-port', '0'],
      ...['--api-listen', `127.0.0.1:${apiPort}`, '--register-listen', `127.0.0.1:${registerPort}`],
      ...['--log-level', 'info'],
      ...(extra.args ?? []),
    ],
    {
      env: {
        ...cleanEnv(),
        GATEHOUSE_DATABASE_URL: databaseUrl,
        GATEHOUSE_SECRET: SECRET,
        GATEHOUSE_ADMIN_TOKEN: REPLICA_ADMIN,
        GATEHOUSE_REPLICA_NAME: name,
        GATEHOUSE_NGINX_WORKERS: '1',
        GATEHOUSE_LOG_FORMAT: 'json',
        ...extra.env,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const lines: ReplicaProcess['lines'] = [];
  let buf = '';
  proc.stderr?.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    for (const l of parts) {
      try {
        lines.push(JSON.parse(l) as ReplicaProcess['lines'][number]);
      } catch {
        process.stderr.write(`${l}\n`);
      }
    }
  });
  const api = (method: string, path: string, body?: unknown) =>
    json(apiPort, method, path, body, { authorization: `Bearer ${REPLICA_ADMIN}` });
  const running = () => proc.exitCode === null && proc.signalCode === null;
  const nginxPid = async () =>
    Number((await readFile(join(dataDir, 'nginx', 'run', 'nginx.pid'), 'utf8').catch(() => '')).trim());
  const signal = async (sig: NodeJS.Signals) => {
    if (!running()) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill(sig);
    await exited;
  };
  const r: ReplicaProcess = {
    name,
    proc,
    dataDir,
    apiPort,
    httpPort,
    registerPort,
    lines,
    api,
    async status() {
      const res = await api('GET', '/api/v1/status');
      if (res.status !== 200) throw new Error(`status answered ${res.status}`);
      return res.json as unknown as Status;
    },
    kill: () => signal('SIGKILL'),
    async stop() {
      const pid = await nginxPid();
      await signal('SIGTERM');
      if (pid && alive(pid)) process.kill(pid, 'SIGQUIT');
      if (pid) await until(() => (!alive(pid) ? true : undefined), 10_000).catch(() => undefined);
    },
  };
  await until(
    async () =>
      (await json(apiPort, 'GET', '/healthz').catch(() => undefined))?.status === 200 ? true : undefined,
    30_000,
    50,
  ).catch(async (err: unknown) => {
    await r.stop();
    throw err;
  });
  return r;
}

/**
 * A login-guarded service on a replica (alice may sign in at `portal`), and how a browser with a
 * session cookie fares through any replica's nginx: what the session-sharing tests start from.
 */
export async function guardedService(r: ReplicaProcess, host: string, upstreamPort: number, portal: string) {
  const user = { username: 'alice', password: 'alice password 1' };
  const made = await r.api('POST', '/api/v1/users', user);
  if (made.status !== 201) throw new Error(`user: ${made.status} ${JSON.stringify(made.json)}`);
  const put = await r.api('PUT', '/api/v1/services/wiki?wait=true', {
    hosts: [host],
    routes: [{ upstreams: [`127.0.0.1:${upstreamPort}`] }],
    access: { login: {} },
  });
  if (put.status !== 201) throw new Error(`service: ${put.status} ${JSON.stringify(put.json)}`);
  return {
    /** The service's answer through `via`'s nginx to a browser holding `cookie`. */
    through: (via: ReplicaProcess, cookie: string) =>
      http(via.httpPort, host, '/', { headers: { cookie: `gh_session=${cookie}`, accept: 'text/html' } }),
    /** Alice signs in at `via`'s portal: her session cookie. */
    signIn: async (via: ReplicaProcess) => {
      const br = new Browser(via.httpPort);
      await br.login(user.username, user.password, portal);
      return br.cookie as string;
    },
  };
}
