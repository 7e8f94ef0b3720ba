import { chmod, chown, mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { WORKER_GID } from '../../store/permissions.js';
import { fileSize } from './error-log.js';

/** nginx's own directory in the data dir: what it needs, with who may enter which part. */
export async function preparePrefix(p: string): Promise<void> {
  await mkdir(p, { recursive: true, mode: 0o711 });
  // Workers run as an unprivileged user: they enter tmp/ (request buffers), nothing else here.
  await chmod(p, 0o711);
  for (const d of ['logs', 'run', 'gen']) await mkdir(join(p, d), { recursive: true, mode: 0o700 });
  // Workers reopen the logs themselves after a rotation (SIGUSR1): they enter logs/ through its
  // group, nobody else does.
  // The fast lane's other routes listen in sock/ (fast-lane.ts: otherSocket): workers connect
  // to it through its group, nobody else enters.
  await mkdir(join(p, 'sock'), { recursive: true, mode: 0o700 });
  if (process.getuid?.() === 0) {
    for (const d of ['logs', 'sock']) {
      await chown(join(p, d), 0, WORKER_GID);
      await chmod(join(p, d), 0o710);
    }
  }
  await mkdir(join(p, 'tmp'), { recursive: true, mode: 0o711 });
}

/**
 * Rotates nginx's logs that grew past `maxBytes`: the file becomes `<name>.1` (replacing the last
 * one) and the master `pid` is told to reopen its logs (SIGUSR1). Returns the rotated file names.
 */
export async function rotateLogs(prefix: string, pid: number, maxBytes: number): Promise<string[]> {
  const rotated: string[] = [];
  for (const name of [
    'access.log',
    'stream.log',
    'error.log',
    'security.log',
    'crowdsec.log',
    'waf-audit.log',
  ]) {
    const path = join(prefix, 'logs', name);
    if (fileSize(path) <= maxBytes) continue;
    await rename(path, `${path}.1`);
    rotated.push(name);
  }
  if (rotated.length) process.kill(pid, 'SIGUSR1');
  return rotated;
}
