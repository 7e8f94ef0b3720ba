import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { alive } from './gatehouse.js';
import { freePort, http, json, until } from './net.js';
import { testDir } from './tmp.js';

const root = resolve(import.meta.dirname, '..', '..');
export const REPLICA_ADMIN = 'replicas-admin-token-0123456789';
const SECRET = 'replicas-shared-secret-0123456789';

/** One `gatehouse up` process (dist/) of several on one PostgreSQL. */
export interface Replica {
  name: string;
  dataDir: string;
  ports: { http: number; https: number; api: number; register: number };
  proc: ChildProcess;
  /** What it wrote to stderr (warnings and errors), for a failing test's message. */
  stderr: string[];
  api(method: string, path: string, body?: unknown): ReturnType<typeof json>;
  /** A request through this replica's nginx for `host`. */
  get(host: string): ReturnType<typeof http>;
}

/** `gatehouse up` in its own process and data dir, on the shared database, base domain `baseDomain`. */
export async function startReplica(name: string, databaseUrl: string, baseDomain: string): Promise<Replica> {
  const dataDir = await testDir(`gh-replica-${name}-`);
  const ports = {
    http: await freePort(),
    https: await freePort(),
    api: await freePort(),
    register: await freePort(),
  };
  const proc = spawn(
    process.execPath,
    [
      join(root, 'bin', 'gatehouse.js'),
      'up',
      '--data-dir',
      dataDir,
      '--http-port',
      String(ports.http),
      '--https-port',
      String(ports.https),
      '--api-listen',
      `127.0.0.1:${ports.api}`,
      '--register-listen',
      `127.0.0.1:${ports.register}`,
      '--log-level',
      'warn',
    ],
    {
      env: {
        ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_'))),
        GATEHOUSE_ADMIN_TOKEN: REPLICA_ADMIN,
        GATEHOUSE_DATABASE_URL: databaseUrl,
        GATEHOUSE_SECRET: SECRET,
        GATEHOUSE_NGINX_WORKERS: '1',
        GATEHOUSE_BASE_DOMAIN: baseDomain,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const stderr: string[] = [];
  proc.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
  const r: Replica = {
    name,
    dataDir,
    ports,
    proc,
    stderr,
    api: (method, path, body) =>
      json(ports.api, method, path, body, { authorization: `Bearer ${REPLICA_ADMIN}` }),
    get: (host) => http(ports.http, host),
  };
  try {
    await until(
      async () => {
        if (proc.exitCode !== null) throw new Error(`replica ${name} exited: ${stderr.join('')}`);
        return (await json(ports.api, 'GET', '/healthz').catch(() => undefined))?.status === 200
          ? true
          : undefined;
      },
      40_000,
      50,
    );
  } catch (err) {
    await stopReplica(r);
    throw err;
  }
  return r;
}

/** Stops a replica and checks that its nginx master went with it. */
export async function stopReplica(r: Replica | undefined): Promise<void> {
  if (!r || r.proc.exitCode !== null || r.proc.signalCode !== null) return;
  const pid = Number(
    (await readFile(join(r.dataDir, 'nginx', 'run', 'nginx.pid'), 'utf8').catch(() => '')).trim(),
  );
  const exited = new Promise((res) => r.proc.once('exit', res));
  r.proc.kill('SIGTERM');
  await exited;
  if (pid && alive(pid)) throw new Error(`nginx master ${pid} of replica ${r.name} outlived it`);
}
