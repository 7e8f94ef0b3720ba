import { readdir, readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
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

function call(socketPath: string, method: 'GET' | 'PUT' | 'POST', body?: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ socketPath, path: REVOCATIONS_PATH, method, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('the revocations endpoint did not answer within 5 s')));
    req.on('error', reject);
    req.end(body);
  });
}

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

  /** Replaces nginx's list with the files' (none when there is no gate). */
  sync(): Promise<void> {
    return this.serial(async () => {
      const dir = this.stateDir();
      if (dir) await this.send('PUT', revocationList(await readRevocations(dir)));
    });
  }

  /** How many revocations nginx's memory holds (and " files" when it had to fall back to them). */
  async count(): Promise<string | undefined> {
    const res = await call(this.socketPath, 'GET').catch(() => undefined);
    return res?.status === 200 ? res.body : undefined;
  }

  private serial(job: () => Promise<void>): Promise<void> {
    const next = this.queue.then(job);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async send(method: 'PUT' | 'POST', body: string): Promise<void> {
    const res = await call(this.socketPath, method, body).catch((err: NodeJS.ErrnoException) => {
      // nginx not running (or with no guarded route, hence no endpoint): it reads the files at start.
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') return undefined;
      throw err;
    });
    if (!res || res.status === 404) return;
    if (res.status !== 200) throw new Error(`nginx refused the revocations (${res.status}): ${res.body}`);
  }
}
