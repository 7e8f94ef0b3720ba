import type { CertRef } from '../model/tls.js';
import type { CompileInput } from './compile.js';
import { BUCKETS, bucketOf, certFor, digestOf, sortCerts, tlsLine } from './digest.js';
import type { EdgeConfig } from './edge-config.js';
import { cmp } from './fragment.js';
import { replaceByKey } from './sorted.js';

type TlsOut = { certs: EdgeConfig['tls']['certs']; hosts: EdgeConfig['tls']['hosts']; digests: string[] };

/**
 * Which certificate serves which HTTPS host, kept from one compile to the next: a host is looked
 * at again when it changed, and every host when the certificates did (finding a host's certificate
 * goes through them all).
 */
export class TlsState {
  private sig: string | undefined;
  private ordered: CertRef[] = [];
  private own = new Set<string>();
  private assigned = new Map<string, CertRef>();
  /** Certificates in use: by id, how many hosts. */
  private use = new Map<string, { cert: CertRef; hosts: number }>();
  private buckets = Array.from({ length: BUCKETS }, () => new Map<string, string>());
  private out: TlsOut = { certs: [], hosts: [], digests: this.buckets.map(digestOf) };

  /**
   * `dirty`: hosts whose services changed; `wants(h)`: whether a service with TLS serves h; `all`:
   * every host services serve.
   */
  update(
    input: CompileInput,
    dirty: Set<string>,
    wants: (h: string) => boolean,
    all: () => Iterable<string>,
  ): TlsOut {
    const certs = input.listeners.https > 0 ? (input.certs ?? []) : [];
    const sig = JSON.stringify(
      certs.map((c) => [c.id, c.fingerprint, c.names, c.notAfter, c.notBefore, c.createdAt]),
    );
    const own = new Set(input.ownHosts ?? []);
    const ownChanged = own.size !== this.own.size || [...own].some((h) => !this.own.has(h));
    const isTls = (h: string): boolean => own.has(h) || wants(h);
    if (sig !== this.sig) {
      this.sig = sig;
      this.ordered = sortCerts(certs);
      this.own = own;
      return this.rebuild(all, isTls);
    }
    // No certificate: no host has one, whatever changed.
    if (this.ordered.length === 0) return this.out;
    const candidates = new Set(dirty);
    if (ownChanged) for (const h of [...own, ...this.own]) candidates.add(h);
    this.own = own;
    const changes = new Map<string, [string, string][]>();
    const buckets = new Set<number>();
    for (const h of candidates) {
      const want = isTls(h) ? certFor(this.ordered, h) : undefined;
      const had = this.assigned.get(h);
      if (want?.id === had?.id && want?.fingerprint === had?.fingerprint) continue;
      const b = bucketOf(h);
      buckets.add(b);
      if (had) this.release(had);
      if (want) {
        this.take(want);
        this.assigned.set(h, want);
        this.buckets[b]?.set(h, tlsLine(h, want.id));
        changes.set(h, [[h, want.id]]);
      } else {
        this.assigned.delete(h);
        this.buckets[b]?.delete(h);
        changes.set(h, []);
      }
    }
    if (changes.size === 0) return this.out;
    const digests = this.out.digests.slice();
    for (const b of buckets) digests[b] = digestOf(this.buckets[b] as Map<string, string>);
    this.out = {
      certs: this.used(),
      hosts: replaceByKey(this.out.hosts, (p) => p[0], changes),
      digests,
    };
    return this.out;
  }

  private rebuild(all: () => Iterable<string>, isTls: (h: string) => boolean): TlsOut {
    this.assigned = new Map();
    this.use = new Map();
    this.buckets = Array.from({ length: BUCKETS }, () => new Map<string, string>());
    const hosts: [string, string][] = [];
    if (this.ordered.length > 0) {
      for (const h of [...new Set([...all(), ...this.own])].sort(cmp)) {
        const cert = isTls(h) ? certFor(this.ordered, h) : undefined;
        if (!cert) continue;
        this.take(cert);
        this.assigned.set(h, cert);
        this.buckets[bucketOf(h)]?.set(h, tlsLine(h, cert.id));
        hosts.push([h, cert.id]);
      }
    }
    this.out = { certs: this.used(), hosts, digests: this.buckets.map(digestOf) };
    return this.out;
  }

  private take(cert: CertRef): void {
    const u = this.use.get(cert.id);
    if (u) u.hosts++;
    else this.use.set(cert.id, { cert, hosts: 1 });
  }

  private release(cert: CertRef): void {
    const u = this.use.get(cert.id) as { hosts: number };
    if (--u.hosts === 0) this.use.delete(cert.id);
  }

  /** The certificates hosts use (sorted by id). */
  private used(): EdgeConfig['tls']['certs'] {
    return [...this.use.values()]
      .map(({ cert }) => ({ id: cert.id, fingerprint: cert.fingerprint }))
      .sort((a, b) => cmp(a.id, b.id));
  }
}
