import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { GatehouseError } from '../../model/errors.js';
import type { RenderedFiles } from './render.js';
import { TLS_PATH, TLS_STATE, tlsFingerprints } from './tls-dynamic.js';

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

function call(
  socketPath: string,
  method: 'GET' | 'PUT',
  body = '',
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = method === 'PUT' ? { 'content-length': Buffer.byteLength(body) } : {};
    const req = request({ socketPath, path: TLS_PATH, method, headers, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('the TLS endpoint did not answer within 5 s')));
    req.on('error', reject);
    req.end(method === 'PUT' ? body : undefined);
  });
}

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
