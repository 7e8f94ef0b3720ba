import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { pgBin } from '../../test/helpers/postgres.js';
import { disown, disownDir, own, ownDir } from './cleanup.js';
import { freePort } from './http.js';

const run = promisify(execFile);

/** A PostgreSQL cluster on loopback for the replica benchmarks (P13R, P14, P15). */
export interface BenchPostgres {
  port: number;
  /** The postmaster's PID (its backends are its children). */
  pid: number;
  /** A URL to a fresh, empty database. */
  createDatabase(): Promise<string>;
  /** Stops the server (fast shutdown) and removes its directory. */
  stop(): Promise<void>;
}

let counter = 0;

/**
 * The same cluster as test/helpers/postgres.ts (initdb, pg_ctl, run by the unprivileged `postgres`
 * user, default settings: fsync on), in a temp dir this bench owns; its postmaster's PID is owned
 * too, so a crashed bench does not leave it running (cleanup.ts sends SIGTERM: a smart shutdown,
 * which completes once the replicas, also ours, are gone).
 */
export async function startBenchPostgres(): Promise<BenchPostgres> {
  const base = await mkdtemp(join(tmpdir(), 'gh-bench-pg-'));
  ownDir(base);
  const dir = join(base, 'cluster');
  await mkdir(dir, { mode: 0o700 });
  const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
  await chown(dir, uid, gid);
  await chmod(base, 0o711);
  const as = (cmd: string, args: string[]) => run('runuser', ['-u', 'postgres', '--', pgBin(cmd), ...args]);
  await as('initdb', ['-D', dir, '-A', 'trust', '--locale=C', '-E', 'UTF8']);
  const port = await freePort();
  await as('pg_ctl', [
    ...['-D', dir, '-l', join(dir, 'log'), '-w', 'start'],
    ...['-o', `-k ${dir} -p ${port} -c listen_addresses=127.0.0.1 -c max_connections=200`],
  ]);
  // The first line of postmaster.pid is the postmaster's PID.
  const pid = Number((await readFile(join(dir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  if (pid > 0) own(pid);
  const admin = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    port,
    pid,
    async createDatabase() {
      counter += 1;
      const name = `gh_bench_${process.pid}_${counter}`;
      const client = new pg.Client({ connectionString: admin });
      await client.connect();
      try {
        await client.query(`create database ${name}`);
      } finally {
        await client.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      await as('pg_ctl', ['-D', dir, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
      if (pid > 0) disown(pid);
      await rm(base, { recursive: true, force: true });
      disownDir(base);
    },
  };
}
