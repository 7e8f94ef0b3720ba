import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../store/files.js';

/** What an enrolled edge keeps so that later starts need no flags: where to ask, and as whom. */
export const controlUrlSchema = z
  .string()
  .regex(/^https?:\/\/[^\s/,]+(\/[^\s,]*)?$/, 'the control plane API as http(s)://host:port');
export const credentialsSchema = z.strictObject({
  control: controlUrlSchema,
  /** With several control-plane replicas: every URL, in order (`control` is the first). */
  controls: z.array(controlUrlSchema).min(2).max(16).optional(),
  token: z.string().regex(/^[A-Za-z0-9_-]{16,200}$/, 'the token `gatehouse node add` printed'),
});
export type Credentials = z.infer<typeof credentialsSchema>;

const FILE = 'credentials.json';

/** Stored root-only (0600) in the edge's directory, written whole then renamed. */
export async function saveCredentials(dir: string, c: Credentials): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o711 });
  const file = join(dir, FILE);
  await writeFileAtomic(file, JSON.stringify(c) + '\n', 0o600);
}

/** The stored credentials; undefined when there are none, an error naming the file when unreadable. */
export async function loadCredentials(dir: string): Promise<Credentials | undefined> {
  const file = join(dir, FILE);
  const raw = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (raw === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`${file}: not JSON; enrol again with --control and --node-token`);
  }
  const c = credentialsSchema.safeParse(parsed);
  if (!c.success) throw new Error(`${file}: ${c.error.issues[0]?.message ?? 'invalid'}; enrol again`);
  return c.data;
}
