import { randomBytes } from 'node:crypto';
import { chmod, rename, writeFile } from 'node:fs/promises';

/**
 * Writes a file whole beside its final name, then renames it over: a reader (nginx's workers,
 * keepalived, a restarting agent) never sees half of it. The temporary name ends in `.tmp`, which
 * readers of the gate's state directory skip. `mode` is set explicitly (the umask could narrow it).
 */
export async function writeFileAtomic(path: string, data: string | Buffer, mode: number): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, data, { mode, flag: 'wx' });
  await chmod(tmp, mode);
  await rename(tmp, path);
}
