import { callStatus } from './status-call.js';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { STATE_DIR, STATE_NAME_MAX } from '../../model/session.js';
import { UnsafeValueError } from './escape.js';
import { REVOCATIONS_PATH } from './gate.js';

/** A revocation as nginx's shared memory holds it: `r/<session id>` or `u/<user id>` → ms. */
export interface Revocation {
  kind: typeof STATE_DIR.revoked | typeof STATE_DIR.userNotBefore;
  id: string;
  ms: number;
}

const SAFE_ID = new RegExp(`^[A-Za-z0-9_-]{1,${STATE_NAME_MAX}}$`);
const KINDS = [STATE_DIR.revoked, STATE_DIR.userNotBefore] as const;

/** The list the endpoint takes (gate-revocations-lua.ts checks it again, line by line). */
export function revocationList(entries: readonly Revocation[]): string {
  const lines = ['# gatehouse revocations'];
  for (const e of entries) {
    if (!(KINDS as readonly string[]).includes(e.kind) || !SAFE_ID.test(e.id))
      throw new UnsafeValueError(`unsafe revocation ${JSON.stringify(e)}`);
    if (!Number.isSafeInteger(e.ms) || e.ms < 0) throw new UnsafeValueError(`unsafe revocation time ${e.ms}`);
    lines.push(`${e.kind} ${e.id} ${e.ms}`);
  }
  return lines.join('\n') + '\n';
}

/** Every revocation file under the gate's state directory (the truth nginx's memory mirrors). */
export async function readRevocations(stateDir: string): Promise<Revocation[]> {
  const out: Revocation[] = [];
  for (const kind of KINDS) {
    const names = await readdir(join(stateDir, kind)).catch(() => [] as string[]);
    for (const id of names) {
      if (!SAFE_ID.test(id)) continue;
      const ms = Number(await readFile(join(stateDir, kind, id), 'utf8').catch(() => ''));
      if (Number.isSafeInteger(ms) && ms >= 0) out.push({ kind, id, ms });
    }
  }
  return out;
}

/**
 * What nginx's GET answers when its memory holds exactly the files' revocations: their count and
 * the sum of their signatures (gate-revocations-lua.ts, sig). Reads only `u/` files' contents
 * (one per user changed); `r/` names suffice, a revoked session's time never changes.
 */
export async function revocationDigest(stateDir: string): Promise<string> {
  let count = 0;
  let sum = 0;
  for (const kind of KINDS) {
    const names = await readdir(join(stateDir, kind)).catch(() => [] as string[]);
    for (const id of names) {
      if (!SAFE_ID.test(id)) continue;
      if (kind === STATE_DIR.revoked) {
        count++;
        sum += crc32(`${kind}/${id}`);
        continue;
      }
      const ms = Number(await readFile(join(stateDir, kind, id), 'utf8').catch(() => ''));
      if (!Number.isSafeInteger(ms) || ms < 0) continue;
      count++;
      sum += crc32(`${kind}/${id} ${ms}`);
    }
  }
  return `${count} ${sum}`;
}

const call = (socketPath: string, method: 'GET' | 'PUT' | 'POST', body?: string) =>
  callStatus(socketPath, REVOCATIONS_PATH, method, {
    what: 'revocations',
    ...(body !== undefined ? { body } : {}),
  });

/**
 * Keeps nginx's shared memory in step with the revocation files: each new revocation is sent as it
 * is written (`add`), and the whole list now and then (`sync`, after a drift check or an edge's
 * mirror). One request at a time, so a whole list read from the files can never land after, and
 * undo, a revocation sent meanwhile.
 */
export class RevocationSync {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly socketPath: string,
    private readonly stateDir: () => string | undefined,
  ) {}

  /** Adds revocations; resolves once nginx holds them (or nginx is not running: it reads the files). */
  add(entries: readonly Revocation[]): Promise<void> {
    const body = revocationList(entries);
    return this.serial(() => this.send('POST', body));
  }

  /**
   * Replaces nginx's list with the files' when the two differ (none when there is no gate).
   * Resolves true when it sent the list.
   */
  sync(): Promise<boolean> {
    return this.serial(async () => {
      const dir = this.stateDir();
      if (!dir) return false;
      const memory = await this.digest();
      // No nginx, or no guarded route (no endpoint): it reads the files when it starts.
      if (memory === undefined || memory === (await revocationDigest(dir))) return false;
      await this.send('PUT', revocationList(await readRevocations(dir)));
      return true;
    });
  }

  /** nginx's `<count> <sum>` (and " files" when it fell back to them), or undefined. */
  async digest(): Promise<string | undefined> {
    const res = await call(this.socketPath, 'GET').catch(() => undefined);
    return res?.status === 200 ? res.body : undefined;
  }

  private serial<T>(job: () => Promise<T>): Promise<T> {
    const next = this.queue.then(job);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async send(method: 'PUT' | 'POST', body: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const res = await call(this.socketPath, method, body).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') return undefined;
        throw err;
      });
      if (!res) {
        // nginx not running, or starting (its socket not yet listening): it reads the files at start,
        // unless it read them a moment ago; a few tries cover that (the drift check, the rest).
        if (attempt < 3) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          continue;
        }
        return;
      }
      // No guarded route, hence no endpoint (nor any check to tell).
      if (res.status === 404) return;
      if (res.status !== 200) throw new Error(`nginx refused the revocations (${res.status}): ${res.body}`);
      return;
    }
  }
}
