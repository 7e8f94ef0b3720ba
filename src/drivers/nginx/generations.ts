import { mkdir, readdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { RenderedFiles } from './render.js';

/**
 * Generation directories under `<prefix>/gen`, and the `current` symlink naming the one nginx
 * loads (see driver.ts).
 */

export async function writeFiles(genDir: string, files: RenderedFiles): Promise<void> {
  for (const [rel, content] of files) {
    const path = join(genDir, rel);
    await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    await writeFile(path, content, { mode: 0o644 });
  }
}

/** The generation directory `current` names, or undefined. */
export async function currentTarget(prefix: string): Promise<string | undefined> {
  return readlink(join(prefix, 'current')).catch(() => undefined);
}

/** Atomically points `current` at a generation directory (rename over the old symlink). */
export async function pointCurrent(prefix: string, genDir: string): Promise<void> {
  const link = join(prefix, 'current');
  const tmp = `${link}.${process.pid}.tmp`;
  await rm(tmp, { force: true });
  await symlink(genDir, tmp);
  await rename(tmp, link);
}

/** Removes old generations but `keepCount` (and `keep`, the live one). */
export async function pruneGenerations(prefix: string, keep: string, keepCount: number): Promise<void> {
  const dir = join(prefix, 'gen');
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n !== keep).sort();
  const excess = names.slice(0, Math.max(0, names.length - keepCount));
  for (const n of excess) await rm(join(dir, n), { recursive: true, force: true }).catch(() => undefined);
}
