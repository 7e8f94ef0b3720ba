import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { openSqlite, type Db } from '../../src/store/db.js';
import { openDatabase } from '../../src/store/open.js';
import { freePort } from './net.js';
import { testDir } from './tmp.js';

const run = promisify(execFile);

/** A PostgreSQL cluster on loopback, run by the `postgres` user in a temp dir. */
export interface TestPostgres {
  port: number;
  /** A URL to a fresh, empty database. */
  createDatabase(): Promise<string>;
  /** Stops the server (fast): connections are cut, as when a database goes away. */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
}

let counter = 0;

/** initdb and pg_ctl: on the PATH, else Debian's (which keeps them out of it). */
export function pgBin(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  const debian = '/usr/lib/postgresql';
  const versions = existsSync(debian) ? readdirSync(debian).sort().reverse() : [];
  for (const v of versions) {
    const p = join(debian, v, 'bin', name);
    if (existsSync(p)) return p;
  }
  throw new Error(`${name} not found: run scripts/install-deps.sh --test`);
}

/** Starts a cluster (PostgreSQL refuses to run as root: it runs as the `postgres` user). */
export async function startPostgres(): Promise<TestPostgres> {
  const base = await testDir('pg-');
  const dir = join(base, 'cluster');
  await mkdir(dir, { mode: 0o700 });
  const { stdout } = await run('id', ['-u', 'postgres']);
  const { stdout: gid } = await run('id', ['-g', 'postgres']);
  await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  await chmod(base, 0o711);
  const as = (cmd: string, args: string[]) => run('runuser', ['-u', 'postgres', '--', pgBin(cmd), ...args]);
  await as('initdb', ['-D', dir, '-A', 'trust', '--locale=C', '-E', 'UTF8']);
  const port = await freePort();
  const start = async () => {
    await as('pg_ctl', [
      '-D',
      dir,
      '-l',
      join(dir, 'log'),
      '-o',
      `-k ${dir} -p ${port} -c listen_addresses=127.0.0.1`,
      '-w',
      'start',
    ]);
  };
  await start();
  const admin = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    port,
    async createDatabase() {
      counter += 1;
      const name = `gh_${process.pid}_${counter}`;
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
      await as('pg_ctl', ['-D', dir, '-m', 'fast', '-w', 'stop']);
    },
    start,
  };
}

/** The two stores every suite that touches the database runs against. */
export const STORES = ['sqlite', 'postgres'] as const;
export type StoreKind = (typeof STORES)[number];

let shared: Promise<TestPostgres> | undefined;

/** One cluster per test file, started at its first PostgreSQL test. */
export function sharedPostgres(): Promise<TestPostgres> {
  shared ??= startPostgres();
  return shared;
}

/** Stops the file's cluster, if one was started (call from afterAll). */
export async function stopSharedPostgres(): Promise<void> {
  if (!shared) return;
  const pgc = await shared;
  shared = undefined;
  await pgc.stop();
}

/** A fresh store of `kind`: SQLite in memory, or a new database in the file's cluster. */
export async function openTestDb(kind: StoreKind): Promise<Db> {
  if (kind === 'sqlite') return openSqlite(':memory:');
  const url = await (await sharedPostgres()).createDatabase();
  return openDatabase(url);
}
