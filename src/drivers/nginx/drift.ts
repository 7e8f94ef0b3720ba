import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
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
 */
export async function driftedFiles(
  prefix: string,
  genDir: string,
  files: RenderedFiles,
  stateText: () => string,
): Promise<string[]> {
  const drifted: string[] = [];
  if ((await currentTarget(prefix)) !== genDir) drifted.push('current');
  for (const [rel, rendered] of files) {
    const content = rel === FAST_LANE_STATE ? stateText() : rendered;
    const onDisk = await readFile(join(genDir, rel), 'utf8').catch(() => undefined);
    if (onDisk === undefined || sha(onDisk) !== sha(content)) drifted.push(rel);
  }
  return drifted;
}

function sha(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
