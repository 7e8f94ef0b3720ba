import { createHash } from 'node:crypto';
import type { RenderEnv } from './env.js';
import { filePath, UnsafeValueError } from './escape.js';
import type { TlsPlan } from './tls.js';
import { TLS_LUA } from './tls-lua.js';

/**
 * Certificates without a reload: HTTPS server blocks name a fallback certificate (nginx needs one to
 * load the config; it is never sent) and let `ssl_certificate_by_lua` pick the certificate by SNI
 * from nginx's shared memory (see tls-lua.ts). Which certificate serves which host is a file of its
 * own (TLS_STATE, no keys in it); the config names no fingerprint, so a renewed certificate, or a
 * new one for a host already served over HTTPS, changes that file alone and reaches the running
 * nginx over the status socket. Keys stay where they were: the root-only files in `env.tlsDir`.
 */

export const TLS_STATE = 'tls.tsv';
export const TLS_PATH = '/tls';
/** The fallback pair, copied from a real certificate by the driver; only its presence matters. */
export const FALLBACK_CERT = 'fallback';
/** Largest update body (every certificate and key at once), kept in memory by nginx. */
const MAX_BODY_MB = 64;

const HOST = /^(?:\*\.)?[a-z0-9_][a-z0-9_.-]*$/;
const FINGERPRINT = /^[0-9a-f]{64}$/;

export function tlsDir(env: RenderEnv): string {
  return filePath(env.tlsDir ?? `${env.prefix}/tls`);
}

/** `# gatehouse tls <version>` and one `host fingerprint` line per host; the version hashes the lines. */
export function tlsState(plan: TlsPlan): string {
  const lines = [...plan.certOf]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([host, fp]) => {
      if (host.length > 253 || !HOST.test(host))
        throw new UnsafeValueError(`unsafe tls host: ${JSON.stringify(host)}`);
      if (!FINGERPRINT.test(fp)) throw new UnsafeValueError(`unsafe fingerprint for ${host}`);
      return `${host}\t${fp}`;
    });
  const version = createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16);
  return [`# gatehouse tls ${version}`, ...lines].join('\n') + '\n';
}

/** The version a TLS state file names, or undefined. */
export function tlsStateVersion(state: string | undefined): string | undefined {
  return /^# gatehouse tls ([0-9a-f]+)\n/.exec(state ?? '')?.[1];
}

/** The fingerprints a state file names, once each. */
export function tlsFingerprints(state: string): string[] {
  return [...new Set(state.split('\n').flatMap((l) => /^[^\t#]+\t([0-9a-f]{64})$/.exec(l)?.[1] ?? []))];
}

/**
 * The shared dict, sized by the number of certificates (a chain and key take 4–8 KiB; a
 * replacement holds old and new ones at once) in powers of two, so that it rarely changes.
 */
export function tlsHttp(certCount: number): string[] {
  let mb = 4;
  while (mb * 1024 < certCount * 32) mb *= 2;
  return [`lua_shared_dict gh_certs ${mb}m;`];
}

/** Lines of `init_by_lua_block`: the module and the table, from this generation and the key files. */
export function tlsInit(env: RenderEnv): string[] {
  const gen = filePath(env.genDir);
  return [`gh_tls = dofile("${gen}/tls.lua")`, `gh_tls.load("${gen}/${TLS_STATE}", "${tlsDir(env)}")`];
}

/** In every HTTPS server block of the http module. */
export function tlsCertLines(env: RenderEnv): string[] {
  const dir = tlsDir(env);
  return [
    `ssl_certificate ${dir}/${FALLBACK_CERT}.crt;`,
    `ssl_certificate_key ${dir}/${FALLBACK_CERT}.key;`,
    'ssl_certificate_by_lua_block {',
    '    gh_tls.select()',
    '}',
  ];
}

/** The status server's location for the table: GET its version, PUT the table and its material. */
export function tlsEndpoint(): string[] {
  return [
    `location = ${TLS_PATH} {`,
    // Equal sizes: a body that fits is never written to a temp file, a larger one is refused.
    `    client_body_buffer_size ${MAX_BODY_MB}m;`,
    `    client_max_body_size ${MAX_BODY_MB}m;`,
    '    client_body_in_single_buffer on;',
    '    content_by_lua_block {',
    '        gh_tls.serve()',
    '    }',
    '}',
  ];
}

export function tlsFiles(plan: TlsPlan): [string, string][] {
  return [
    ['tls.lua', TLS_LUA],
    [TLS_STATE, tlsState(plan)],
  ];
}
