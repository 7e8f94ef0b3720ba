import { createHash } from 'node:crypto';
import { covers, type CertRef } from '../model/tls.js';
import type { EdgeConfig } from './edge-config.js';
import { cmp } from './fragment.js';

/**
 * The config's hash is made of buckets: services (by name) and HTTPS hosts (by host) fall into one of
 * BUCKETS buckets by a cheap hash of their name, each bucket has its own sha256, and the config's
 * hash covers the bucket digests. A change to one service re-hashes its bucket (about 1/256th of
 * the registry), not 700 KB. Bucket digests are sha256 over content (never XOR or sums of
 * per-service hashes, which a registrant could make collide), so the hash stays a content hash,
 * deterministic and independent of the order services come in.
 */
export const BUCKETS = 256;

/** FNV-1a over the name's UTF-16 code units: cheap, stable, only spreads names over buckets. */
export function bucketOf(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % BUCKETS;
}

/** A bucket's digest: its lines, already sorted by name. An empty bucket is `-`. */
export function bucketDigest(lines: string[]): string {
  return lines.length === 0 ? '-' : createHash('sha256').update(lines.join('')).digest('hex');
}

/** The digest of a bucket kept as name → line. */
export function digestOf(bucket: ReadonlyMap<string, string>): string {
  return bucketDigest([...bucket].sort((a, b) => cmp(a[0], b[0])).map(([, line]) => line));
}

/** The line an HTTPS host adds to its TLS bucket. */
export function tlsLine(host: string, certId: string): string {
  return `${host} ${certId}\n`;
}

export function configHash(
  listeners: EdgeConfig['listeners'],
  services: readonly string[],
  tls: { certs: EdgeConfig['tls']['certs']; buckets: readonly string[] },
  acme: EdgeConfig['acme'],
  tcp: EdgeConfig['tcp'],
  crowdsec = false,
): string {
  return createHash('sha256')
    .update(crowdsec ? 'crowdsec\n' : '')
    .update(`2 ${listeners.http} ${listeners.https}\n`)
    .update(services.join(''))
    .update(JSON.stringify(tls.certs))
    .update(tls.buckets.join(''))
    .update(JSON.stringify(acme))
    .update(JSON.stringify(tcp))
    .digest('hex');
}

/** For each host, the valid certificate covering it that lasts longest (ties: the newest, then id). */
export function sortCerts(certs: readonly CertRef[]): CertRef[] {
  return [...certs].sort(
    (a, b) =>
      cmp(b.notAfter, a.notAfter) ||
      cmp(b.notBefore ?? '', a.notBefore ?? '') ||
      cmp(b.createdAt ?? '', a.createdAt ?? '') ||
      cmp(a.id, b.id),
  );
}

/** The certificate for `host` among `ordered` (see sortCerts). */
export function certFor(ordered: readonly CertRef[], host: string): CertRef | undefined {
  return ordered.find((c) => c.names.some((n) => covers(n, host)));
}

/** Terminated TCP routes take the certificate of their name, https listener or not. */
export function tcpWithCerts(
  tcp: EdgeConfig['tcp'],
  certs: readonly CertRef[],
  used: Map<string, { id: string; fingerprint: string }>,
): EdgeConfig['tcp'] {
  if (!tcp.some((l) => l.tls?.mode === 'terminate')) return tcp;
  const ordered = sortCerts(certs);
  return tcp.map((l) => {
    if (l.tls?.mode !== 'terminate') return l;
    const cert = certFor(ordered, l.tls.sni[0] as string);
    if (!cert) return l;
    if (!used.has(cert.id)) used.set(cert.id, { id: cert.id, fingerprint: cert.fingerprint });
    return { ...l, tls: { ...l.tls, certId: cert.id } };
  });
}

export function acmeOf(challenges: ReadonlyMap<string, string> | undefined): EdgeConfig['acme'] {
  return [...(challenges ?? new Map<string, string>())]
    .filter(([t, k]) => /^[A-Za-z0-9_-]{1,256}$/.test(t) && /^[A-Za-z0-9_.-]{1,512}$/.test(k))
    .sort(([a], [b]) => cmp(a, b));
}
