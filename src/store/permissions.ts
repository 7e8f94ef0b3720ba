import { lstatSync, readdirSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { Logger } from '../observe/log.js';

/** nginx started as root runs its workers as nobody:nogroup (the generated config sets no `user`). */
export const WORKER_UID = 65534;
export const WORKER_GID = 65534;

/**
 * The most a path in the data dir may allow. State (the database and its WAL, keys, token hashes,
 * caches, logs, sockets) is the owner's alone: 0600 files, 0700 directories. The exceptions are
 * what nginx's workers (an unprivileged user) must reach, and they get the least they need: to
 * enter the data dir, `gate/` and `nginx/tmp/` (0711), and `nginx/logs/` and `nginx/sock/` (0710,
 * their group), to read the gate's state files (0644 in
 * 0711 directories: names tested, never listed) and to connect to the gate's socket (0660, group
 * of the workers).
 */
export function maxMode(rel: string, isDir: boolean): number {
  const parts = rel === '' ? [] : rel.split(sep);
  const [top, second] = parts;
  if (parts.length === 0) return 0o711;
  if (top === 'gate') {
    if (parts.length === 1) return 0o711;
    if (second === 'gate.sock' && parts.length === 2) return 0o660;
    if (second === 'state') return isDir ? 0o711 : 0o644;
  }
  if (top === 'nginx') {
    if (parts.length === 1) return 0o711;
    if (second === 'tmp' && parts.length === 2) return 0o711;
    // Workers reopen their logs after a rotation: they enter logs/ through its group (nogroup).
    if (second === 'logs' && parts.length === 2) return 0o710;
    // Workers connect to the fast lane's other routes' socket (drivers/nginx/fast-lane.ts) through
    // sock/'s group.
    if (second === 'sock' && parts.length === 2) return 0o710;
    // nginx's own files (config generations, logs, its pid and sockets) keep the modes nginx gives
    // them (it creates logs 0644 at every reopen): their 0700 or 0710 directory keeps others out.
    const own = ['gen', 'logs', 'run', 'sock'];
    if (own.includes(second ?? '') && parts.length > 2) return isDir ? 0o755 : 0o666;
  }
  return isDir ? 0o700 : 0o600;
}

export interface TooOpen {
  path: string;
  mode: number;
  max: number;
}

/** Every path below `dataDir` (itself included) whose mode allows more than maxMode; reads only. */
export function tooOpen(dataDir: string): TooOpen[] {
  const found: TooOpen[] = [];
  const walk = (path: string) => {
    let st;
    try {
      st = lstatSync(path);
    } catch {
      return; // gone meanwhile
    }
    // A symlink's own mode means nothing (nginx/current points at a generation inside the tree).
    if (st.isSymbolicLink()) return;
    const isDir = st.isDirectory();
    const max = maxMode(relative(dataDir, path), isDir);
    const mode = st.mode & 0o777;
    if ((mode & ~max) !== 0) found.push({ path, mode, max });
    if (!isDir) return;
    for (const name of readdirSync(path).sort()) walk(join(path, name));
  };
  walk(dataDir);
  return found;
}

export const octal = (m: number): string => `0${m.toString(8).padStart(3, '0')}`;

/**
 * Takes away whatever a path allows beyond maxMode. Run at every start-up: before anything is
 * opened (a database left 0644 by an older version or a restore is named in a warning), and once
 * Gatehouse is up (files nginx created with its own defaults, quietly). A mode that cannot be
 * changed (another owner) refuses start-up: state would stay readable by others.
 */
export async function securePermissions(
  dataDir: string,
  log: Logger,
  opts: { quiet?: boolean } = {},
): Promise<TooOpen[]> {
  const found = tooOpen(dataDir);
  for (const f of found) {
    const now = f.mode & f.max;
    try {
      await chmod(f.path, now);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new Error(
        `${f.path} is mode ${octal(f.mode)} (readable or writable by others) and cannot be changed: ` +
          `${(err as Error).message}. Make it ${octal(now)} (chmod ${octal(now)} ${f.path}) and start again`,
      );
    }
    const fields = { file: f.path, was: octal(f.mode), now: octal(now) };
    if (opts.quiet) log.debug(fields, 'permissions narrowed');
    else log.warn(fields, 'permissions too open: fixed');
  }
  return found;
}
