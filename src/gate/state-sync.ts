import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../store/files.js';

/**
 * Makes the state files under `root` (`<root>/<service>/<name>`: link admissions, API keys)
 * exactly `want` (absolute path → content): others removed, missing or different ones written whole
 * and renamed (nginx never reads half a file). Returns how many files it wrote or removed.
 */
export async function syncServiceFiles(root: string, want: ReadonlyMap<string, string>): Promise<number> {
  let changed = 0;
  const list = (dir: string) => readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const svc of await list(root)) {
    if (!svc.isDirectory()) continue;
    for (const f of await list(join(root, svc.name))) {
      const file = join(root, svc.name, f.name);
      // Temp files of a write in progress end in .tmp; the writer renames or removes them.
      if (!f.isFile() || f.name.endsWith('.tmp') || want.has(file)) continue;
      await rm(file, { force: true });
      changed++;
    }
  }
  for (const [file, content] of want) if (await putStateFile(file, content)) changed++;
  return changed;
}

/** Writes `content` to `file` (0644, its directory 0711) unless it holds that already. */
export async function putStateFile(file: string, content: string): Promise<boolean> {
  if ((await readFile(file, 'utf8').catch(() => undefined)) === content) return false;
  await mkdir(dirname(file), { recursive: true, mode: 0o711 });
  await writeFileAtomic(file, content, 0o644);
  return true;
}
