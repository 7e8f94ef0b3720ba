import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FAST_LANE_STATE } from './fast-lane.js';
import { currentTarget } from './generations.js';
import type { RenderedFiles } from './render.js';

/**
 * Drift: what on disk differs from what Gatehouse rendered for the live generation (someone edited
 * a file, or pointed `current` elsewhere). The driver (driver.ts) rewrites and reloads on drift.
 */

/**
 * The names that differ: `current` when the symlink does not point at `genDir`, then every file of
 * `files` whose content on disk is not the rendered one (or is missing). The fast lane's state file
 * is compared with `stateText()`: its base table and the patches appended since (state-journal.ts).
 *
 * `verified` remembers each file's inode, size and mtime (ns) when its content was last found
 * equal: a file whose stat is still that is not read again. With 10,000 routes the check ran every
 * 5 s over megabytes (read, decoded and hashed each time); an edit changes the mtime, a replaced
 * file the inode. Only an edit that restores both the size and the mtime to the nanosecond goes
 * unseen, which takes intent, not an accident.
 */
export async function driftedFiles(
  prefix: string,
  genDir: string,
  files: RenderedFiles,
  stateText: () => string,
  verified: Map<string, string> = new Map(),
): Promise<string[]> {
  const drifted: string[] = [];
  if ((await currentTarget(prefix)) !== genDir) drifted.push('current');
  // Entries of generations before this one are of no more use.
  for (const path of verified.keys()) if (!path.startsWith(`${genDir}/`)) verified.delete(path);
  for (const [rel, rendered] of files) {
    const path = join(genDir, rel);
    const st = await stat(path, { bigint: true }).catch(() => undefined);
    const seen = st ? `${st.ino}:${st.size}:${st.mtimeNs}` : '';
    if (st && verified.get(path) === seen) continue;
    const content = rel === FAST_LANE_STATE ? stateText() : rendered;
    const onDisk = st ? await readFile(path, 'utf8').catch(() => undefined) : undefined;
    if (onDisk !== undefined && sha(onDisk) === sha(content)) verified.set(path, seen);
    else {
      verified.delete(path);
      drifted.push(rel);
    }
  }
  return drifted;
}

function sha(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
