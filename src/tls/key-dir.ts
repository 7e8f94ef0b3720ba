import { createHash } from 'node:crypto';
import { lstat, mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/**
 * Where private keys are written for nginx: a root-only directory on /run when /run is a tmpfs, so
 * keys never reach a disk in the clear; else inside the data dir. Never a world-writable tmpfs
 * (/dev/shm): another user could have prepared the path. One directory per data dir.
 */
export async function keyDir(dataDir: string, fallback: string): Promise<{ dir: string; inMemory: boolean }> {
  const mounts = await readFile('/proc/mounts', 'utf8').catch(() => '');
  const runIsTmpfs = /^\S+ \/run tmpfs /m.test(mounts);
  if (!runIsTmpfs || process.getuid?.() !== 0) return { dir: fallback, inMemory: false };
  const id = createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 12);
  const parts = ['/run/gatehouse', join('/run/gatehouse', id), join('/run/gatehouse', id, 'tls')];
  for (const p of parts) {
    await mkdir(p, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    // Ours, a real directory, root's alone: anything else and keys stay in the data dir.
    const st = await lstat(p);
    if (!st.isDirectory() || st.isSymbolicLink() || st.uid !== 0 || (st.mode & 0o077) !== 0) {
      return { dir: fallback, inMemory: false };
    }
  }
  return { dir: join('/run/gatehouse', id, 'tls'), inMemory: true };
}
