import { callStatus } from './status-call.js';
import { randomBytes, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EdgeConfig } from '../../compile/edge-config.js';
import { GatehouseError } from '../../model/errors.js';
import type { Logger } from '../../observe/log.js';
import { writeAtomic } from './live-state.js';
import type { RenderedFiles } from './render.js';
import { FALLBACK_CERT, TLS_PATH, TLS_STATE, tlsFingerprints, tlsStateVersion } from './tls-dynamic.js';

/** The running nginx's TLS table (see tls-dynamic.ts): what is sent to it, and what it holds. */

/** The files without the TLS state file, to ask whether anything else differs. */
export function withoutTlsState(files: RenderedFiles): RenderedFiles {
  const rest = new Map(files);
  rest.delete(TLS_STATE);
  return rest;
}

/**
 * The PUT body: the state, then per fingerprint `= <fingerprint>` and its chain and key, read from
 * the root-only files the driver wrote. It lives in memory only, and goes over the root-only socket.
 */
export async function tlsUpdateBody(state: string, dir: string): Promise<string> {
  const parts = [state];
  for (const fp of tlsFingerprints(state)) {
    const cert = await readFile(join(dir, `${fp}.crt`), 'utf8');
    const key = await readFile(join(dir, `${fp}.key`), 'utf8');
    parts.push(`= ${fp}\n`, withNewline(cert), withNewline(key));
  }
  return parts.join('');
}

function withNewline(pem: string): string {
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}

const call = (socketPath: string, method: 'GET' | 'PUT', body?: string) =>
  callStatus(socketPath, TLS_PATH, method, {
    what: 'TLS',
    ...(method === 'PUT' ? { body: body ?? '' } : {}),
  });

/** Sends the whole TLS table to the running nginx; rejects with nginx's message if refused. */
export async function sendTls(socketPath: string, body: string): Promise<void> {
  const res = await call(socketPath, 'PUT', body);
  if (res.status !== 200)
    throw new GatehouseError('tls_refused', `nginx refused the certificate table: ${res.body}`, 500);
}

/** The TLS table version nginx's shared memory holds; undefined when nginx does not answer. */
export async function liveTlsVersion(socketPath: string): Promise<string | undefined> {
  const res = await call(socketPath, 'GET').catch(() => undefined);
  return res?.status === 200 ? res.body : undefined;
}

export interface LiveCertificatesOptions {
  /** Where the files go (root-only; Gatehouse prefers a tmpfs). */
  dir: () => string;
  statusSocket: string;
  log: Logger;
  /** A certificate and its key by id. */
  material: (id: string) => Promise<{ cert: string; key: string }>;
}

/**
 * The certificate files nginx's master reads (named by fingerprint, keys 0600 in a 0700 directory)
 * and the certificate table in the running nginx's memory (see tls-dynamic.ts).
 */
export class LiveCertificates {
  constructor(private readonly o: LiveCertificatesOptions) {}

  /** Files for every certificate of the config, and the fallback pair HTTPS servers name. */
  async write(cfg: EdgeConfig): Promise<void> {
    if (cfg.tls.certs.length === 0) return;
    const dir = this.o.dir();
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    for (const c of cfg.tls.certs) {
      const base = join(dir, c.fingerprint);
      if (await exists(`${base}.crt`)) continue;
      const m = await this.o.material(c.id);
      await writePair(base, m.cert, m.key);
    }
    // nginx loads the fallback with the config and never sends it (the Lua certificate callback
    // replaces it, or fails the handshake): a copy of a certificate the config has, so that a
    // removed certificate's key does not stay behind in it.
    const fallback = join(dir, FALLBACK_CERT);
    const have = await readFile(`${fallback}.crt`, 'utf8').then(fingerprintOf, () => undefined);
    const first = cfg.tls.certs[0];
    if (first && !cfg.tls.certs.some((c) => c.fingerprint === have)) {
      const from = join(dir, first.fingerprint);
      await writePair(fallback, await readFile(`${from}.crt`, 'utf8'), await readFile(`${from}.key`, 'utf8'));
    }
  }

  /** Removes certificate files the live config no longer names (never fails the apply). */
  async prune(cfg: EdgeConfig): Promise<void> {
    const dir = this.o.dir();
    const names = cfg.tls.certs.map((c) => c.fingerprint);
    if (names.length > 0) names.push(FALLBACK_CERT);
    const keep = new Set(names.flatMap((f) => [`${f}.crt`, `${f}.key`]));
    try {
      for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
        if (entry.isFile() && !keep.has(entry.name)) await rm(join(dir, entry.name), { force: true });
      }
    } catch (err) {
      this.o.log.warn({ err: String(err) }, 'could not remove old certificate files');
    }
  }

  /**
   * When the table differs from the live one (a renewal, another certificate for a host already on
   * HTTPS): the files, the generation's table file, then nginx's memory. False when nginx did not
   * take it (the caller reloads instead).
   */
  async apply(
    cfg: EdgeConfig,
    state: string | undefined,
    live: string | undefined,
    genDir: string,
  ): Promise<boolean> {
    if (!state || state === live) return true;
    try {
      await this.write(cfg);
      const body = await tlsUpdateBody(state, this.o.dir());
      // The file first: an nginx that restarts from here on loads the new table.
      await writeAtomic(join(genDir, TLS_STATE), state);
      await sendTls(this.o.statusSocket, body);
    } catch (err) {
      this.o.log.warn({ err: String(err) }, 'certificate table not taken by nginx; reloading instead');
      return false;
    }
    await this.prune(cfg);
    return true;
  }

  /** Sends `state` when nginx's memory holds another table; ['tls'] when it did. */
  async sync(state: string | undefined, running: boolean): Promise<string[]> {
    const { memory, file } = await this.versions(state);
    if (!running || memory === undefined || memory === file || !state) return [];
    try {
      await sendTls(this.o.statusSocket, await tlsUpdateBody(state, this.o.dir()));
    } catch (err) {
      this.o.log.warn({ err: String(err) }, 'could not send the certificate table');
      return [];
    }
    return ['tls'];
  }

  /** The table's version in nginx's shared memory and in `state` (the live file). */
  async versions(state: string | undefined): Promise<{ memory?: string; file?: string }> {
    return { memory: await liveTlsVersion(this.o.statusSocket), file: tlsStateVersion(state) };
  }
}

/** A PEM certificate's SHA-256 fingerprint as the store writes it; undefined if it does not parse. */
function fingerprintOf(pem: string): string | undefined {
  try {
    return new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase();
  } catch {
    return undefined;
  }
}

function exists(path: string): Promise<boolean> {
  return readFile(path).then(
    () => true,
    () => false,
  );
}

/**
 * The key first (0600), the certificate last: a .crt never stands without its key. Fresh, exclusive
 * temp names: nothing prepared in the directory is ever written through.
 */
async function writePair(base: string, cert: string, key: string): Promise<void> {
  const tmp = randomBytes(6).toString('hex');
  await writeFile(`${base}.key.${tmp}`, key, { mode: 0o600, flag: 'wx' });
  await rename(`${base}.key.${tmp}`, `${base}.key`);
  await writeFile(`${base}.crt.${tmp}`, cert, { mode: 0o644, flag: 'wx' });
  await rename(`${base}.crt.${tmp}`, `${base}.crt`);
}
