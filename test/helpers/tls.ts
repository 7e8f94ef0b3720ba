import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Res } from './net.js';

/** A throwaway CA and leaf certificates made with openssl, for HTTPS tests. */
export function makeCa(dir: string): {
  ca: string;
  caFile: string;
  issue(names: string[], days?: number): { cert: string; key: string };
} {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=Gatehouse Test CA',
  );
  let n = 0;
  return {
    ca: readFileSync(join(dir, 'ca.crt'), 'utf8'),
    caFile: join(dir, 'ca.crt'),
    issue(names, days = 2) {
      const base = `leaf${n++}`;
      ssl(
        'req',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        `${base}.key`,
        '-out',
        `${base}.csr`,
        '-subj',
        `/CN=${names[0] ?? 'x'}`,
      );
      const ext = join(dir, `${base}.ext`);
      const san = names.map((x) => (/^[0-9.]+$/.test(x) ? `IP:${x}` : `DNS:${x}`)).join(',');
      writeFileSync(ext, `subjectAltName=${san}\n`);
      ssl(
        'x509',
        '-req',
        '-in',
        `${base}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${base}.crt`,
        '-days',
        String(days),
        '-extfile',
        ext,
      );
      return {
        cert: readFileSync(join(dir, `${base}.crt`), 'utf8'),
        key: readFileSync(join(dir, `${base}.key`), 'utf8'),
      };
    },
  };
}

/** An HTTPS request to 127.0.0.1:port with SNI and Host set to `host`, trusting `ca`. */
export function https(
  port: number,
  host: string,
  path: string,
  ca: string,
  headers: Record<string, string> = {},
  opts: { method?: string; body?: string } = {},
): Promise<Res & { fingerprint: string; keyType: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        servername: isIP(host) ? '' : host,
        ca,
        headers: { host, ...headers },
        agent: false,
        timeout: 10_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        const peer = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
        const fingerprint = (peer.fingerprint256 ?? '').replace(/:/g, '').toLowerCase();
        // "rsa-2048" or "ec-prime256v1", from what the server presented.
        const p = peer as { asn1Curve?: string; bits?: number };
        const keyType = p.asn1Curve ? `ec-${p.asn1Curve}` : `rsa-${String(p.bits ?? '')}`;
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, fingerprint, keyType }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A form POST over HTTPS (SNI and Host set to `host`). */
export function httpsPost(port: number, host: string, path: string, ca: string, form: string): Promise<Res> {
  const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' };
  return https(port, host, path, ca, headers, { method: 'POST', body: form });
}
