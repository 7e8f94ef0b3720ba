import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../store/files.js';

/** Bounds the mirrored state: revocations are pruned hourly, so this is far above normal use. */
const MAX_STATE_FILES = 100_000;
/** State files hold a number, a flag, or an API key's hash and identity (model/api-key.ts). */
const MAX_CONTENT = 8192;

/**
 * The gate's state files (revocations `r/`, `u/`; sign-in availability `p/`; link admissions
 * `l/<service>/<ip>`): every file below `dir` as (relative path, content), sorted. Temp files of a
 * write in progress are skipped.
 */
export async function readState(dir: string, max = MAX_STATE_FILES): Promise<[string, string][]> {
  const out: [string, string][] = [];
  const gone = (err: NodeJS.ErrnoException) => {
    // Removed while we looked (an expired revocation pruned, a link withdrawn): simply not there.
    if (err.code === 'ENOENT') return undefined;
    throw err;
  };
  const walk = async (rel: string): Promise<void> => {
    const entries = (await readdir(join(dir, rel), { withFileTypes: true }).catch(gone)) ?? [];
    for (const e of entries) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && !e.name.endsWith('.tmp')) {
        // Refused rather than cut short: a partial list would drop revocations on the edges.
        if (out.length >= max) throw new Error(`more than ${max} gate state files`);
        const content = await readFile(join(dir, p), 'utf8').catch(gone);
        if (content !== undefined) out.push([p, content.slice(0, MAX_CONTENT)]);
      }
    }
  };
  await walk('');
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** A path from the control plane: relative, plain segments only (it names a file we write). */
function safeRelative(p: string): boolean {
  return p.split('/').every((seg) => /^[A-Za-z0-9_.:-]{1,100}$/.test(seg) && seg !== '.' && seg !== '..');
}

/**
 * Makes `dir` hold exactly `files` (an edge mirroring the control plane's gate state). Each file is
 * written whole and renamed, so nginx's check never reads half a number; workers (an unprivileged
 * user) may test for names but not list directories.
 */
export async function mirrorState(dir: string, files: [string, string][]): Promise<void> {
  const want = new Map(files.filter(([p, c]) => safeRelative(p) && c.length <= MAX_CONTENT));
  const have = new Map(await readState(dir));
  for (const [p, content] of want) {
    if (have.get(p) === content) continue;
    const file = join(dir, p);
    await mkdir(dirname(file), { recursive: true, mode: 0o711 });
    await writeFileAtomic(file, content, 0o644);
  }
  for (const p of have.keys()) if (!want.has(p)) await rm(join(dir, p), { force: true });
}
