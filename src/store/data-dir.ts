import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Settings } from '../model/settings.js';
import type { Logger } from '../observe/log.js';

import { securePermissions, WORKER_GID, WORKER_UID } from './permissions.js';

/** The registry database in a data dir. */
export const dbFile = (dataDir: string): string => join(dataDir, 'gatehouse.db');

/**
 * Written once the registry holds its first version: from then on an empty or missing database in
 * this data dir is a loss to report, not a fresh start.
 */
export const markerFile = (dataDir: string): string => join(dataDir, 'registry.marker');

export interface Reach {
  ok: boolean;
  /** Directories on the way that the workers may not enter (empty when ok, or when unknown). */
  blocked: string[];
}

/**
 * Whether nginx's workers can enter `dir`. Only a root Gatehouse has workers of another user (else
 * they run as us). The mode bits on the way decide, and name the directories in the way; when they
 * say no, the system is asked as that user (an ACL may let them through).
 */
export function workerReach(dir: string): Reach {
  if (process.getuid?.() !== 0) return { ok: true, blocked: [] };
  const blocked: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    try {
      const st = statSync(d);
      const bit = st.uid === WORKER_UID ? 0o100 : st.gid === WORKER_GID ? 0o010 : 0o001;
      if ((st.mode & bit) === 0) blocked.unshift(d);
    } catch {
      // not there: nothing to enter yet
    }
    if (d === dirname(d)) break;
  }
  // Open by the mode bits: no need to ask (a start-up stays quick).
  if (blocked.length === 0) return { ok: true, blocked };
  // Closed by them, unless an ACL lets the workers through: ask the system as that user.
  const probe = spawnSync('test', ['-x', resolve(dir)], {
    uid: WORKER_UID,
    gid: WORKER_GID,
    timeout: 10_000,
  });
  return { ok: probe.status === 0, blocked: probe.status === 0 ? [] : blocked };
}

/** The operator's message when the workers cannot reach the data dir: what breaks and what to do. */
export function reachMessage(dataDir: string, reach: Reach): string {
  const which = reach.blocked.length ? reach.blocked.join(', ') : 'a directory above it';
  return (
    `nginx's workers (user nobody) cannot enter the data dir ${dataDir}: ${which} is closed to other users. ` +
    `Every login-guarded route would answer 403, and a simple route to an HTTPS or least_conn backend 503. Either let them pass (chmod o+x ${reach.blocked.join(' ') || '<that directory>'}; ` +
    `they can enter but not list it), or choose a data dir they can reach, e.g. --data-dir /var/lib/gatehouse`
  );
}

/**
 * Makes the data dir ready before anything is opened, or refuses with the reason: nginx's workers
 * must reach it (item: a 0700 parent used to mean a silent 403 on every guarded route), a database
 * that held a registry must not have become empty, and state must not be readable by others.
 */
export async function prepareDataDir(
  dataDir: string,
  log: Logger,
  opts: { sqlite: boolean } = { sqlite: true },
): Promise<void> {
  // Parents it creates are traversable, not listable (0711): a 0700 one would shut nginx's workers
  // out of the data dir Gatehouse itself asked for.
  await mkdir(dataDir, { recursive: true, mode: 0o711 });
  // Traversable, not listable: nginx workers (an unprivileged user) reach gate/ and nginx/tmp/ below it.
  await chmod(dataDir, 0o711);
  const reach = workerReach(dataDir);
  if (!reach.ok) throw new Error(reachMessage(dataDir, reach));
  checkNotEmptied(dataDir);
  await securePermissions(dataDir, log);
  await mkdir(join(dataDir, 'run'), { recursive: true, mode: 0o700 });
  // On PostgreSQL the data dir holds no database: an empty gatehouse.db would only mislead.
  if (!opts.sqlite) return;
  // Created by us with a fixed mode, whatever the umask: SQLite gives its -wal and -shm the same.
  const db = dbFile(dataDir);
  closeSync(openSync(db, 'a', 0o600));
  await chmod(db, 0o600);
}

/** What the marker says, or undefined when there is none. */
export function readMarker(dataDir: string): string | undefined {
  try {
    return readFileSync(markerFile(dataDir), 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The message when a data dir that held a registry now has an empty or missing database. */
export function emptiedMessage(dataDir: string, what: string): string {
  const marker = markerFile(dataDir);
  return (
    `${dbFile(dataDir)} ${what}, but this data dir held a registry (${marker}: ${readMarker(dataDir) ?? '?'}). ` +
    `Not starting: an empty registry would replace the running config and drop every service. ` +
    `Restore gatehouse.db (with data.key) from a backup, or remove ${marker} to start anew on purpose`
  );
}

/** Before the database is opened (which would create an empty one): is it missing or zero bytes? */
export function checkNotEmptied(dataDir: string): void {
  if (readMarker(dataDir) === undefined) return;
  const db = dbFile(dataDir);
  if (!existsSync(db)) throw new Error(emptiedMessage(dataDir, 'is missing'));
  if (statSync(db).size === 0) throw new Error(emptiedMessage(dataDir, 'is empty (0 bytes)'));
}

/**
 * Records that this data dir holds a registry (once; later versions need not rewrite it). Sync, so
 * that it is on disk before the write that stored the first version is answered.
 */
export function markRegistry(dataDir: string, version: number): void {
  try {
    writeFileSync(markerFile(dataDir), `registry version ${version} stored ${new Date().toISOString()}\n`, {
      mode: 0o600,
      flag: 'wx',
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/**
 * After the registry is loaded: a database that once held versions and now holds none (tables
 * gone, another file) is a loss and stops start-up; else the data dir is marked as soon as it
 * holds a version (now, or at the first write).
 */
export function guardRegistry(
  dataDir: string,
  registry: { version: number; onChange(fn: (e: { version: number }) => void): () => void },
  log: Logger,
): void {
  if (registry.version === 0 && readMarker(dataDir) !== undefined)
    throw new Error(emptiedMessage(dataDir, 'holds no registry (version 0)'));
  if (registry.version > 0) {
    markRegistry(dataDir, registry.version);
    return;
  }
  const stop = registry.onChange((e) => {
    stop();
    try {
      markRegistry(dataDir, e.version);
    } catch (err) {
      log.error({ err: String(err) }, 'could not write the registry marker');
    }
  });
}

/** What a running Gatehouse tells `doctor` and the CLI about itself (no secrets). */
export interface InstanceInfo {
  pid: number;
  http_port: number;
  https_port: number;
  api: string;
  register: string;
  api_listen: string;
  register_listen: string;
  nginx_bin: string;
  nginx_modules_dir: string;
}

export const instanceFile = (dataDir: string): string => join(dataDir, 'run', 'instance.json');

export function writeInstance(dataDir: string, s: Settings, bound: { api: string; register: string }): void {
  const info: InstanceInfo = {
    pid: process.pid,
    http_port: s.http_port,
    https_port: s.https_port,
    ...bound,
    api_listen: s.api_listen,
    register_listen: s.register_listen,
    nginx_bin: s.nginx_bin,
    nginx_modules_dir: s.nginx_modules_dir,
  };
  writeFileSync(instanceFile(dataDir), JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
}

/** The instance running on this data dir, if its process is alive. */
export function runningInstance(dataDir: string): InstanceInfo | undefined {
  let info: InstanceInfo;
  try {
    info = JSON.parse(readFileSync(instanceFile(dataDir), 'utf8')) as InstanceInfo;
    process.kill(info.pid, 0);
  } catch {
    return undefined;
  }
  return info;
}
