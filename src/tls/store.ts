import { createPrivateKey, randomUUID, X509Certificate } from 'node:crypto';
import { GatehouseError, invalid, notFound } from '../model/errors.js';
import type { Sealer } from '../store/secrets.js';
import type { Database, Db } from '../store/db.js';

type CertRow = Database['certificates'];

import type { CertRef } from '../model/tls.js';

export interface CertView extends CertRef {
  source: string;
  notBefore: string;
  createdAt: string;
}

/**
 * Certificates and their keys. Keys are sealed (AES-256-GCM under the data key) at rest; the
 * driver asks for one only to write it where nginx reads it. A certificate is served for the hosts
 * its names cover (a wildcard covers one label) while it is valid.
 */
export class CertStore {
  private changed: () => void = () => undefined;

  constructor(
    private readonly db: Db,
    private readonly sealer: Sealer,
  ) {}

  /** Called after every change (the edge re-renders). */
  onChange(fn: () => void): void {
    this.changed = fn;
  }

  async upload(certPem: string, keyPem: string, source = 'upload'): Promise<CertView> {
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(certPem);
    } catch {
      throw invalid('cert', 'not a PEM certificate');
    }
    let key;
    try {
      key = createPrivateKey(keyPem);
    } catch {
      throw invalid('key', 'not a PEM private key (unencrypted PKCS#8, PKCS#1 or SEC1)');
    }
    if (!x509.checkPrivateKey(key)) throw invalid('key', 'does not belong to the certificate');
    const names = namesOf(x509);
    if (names.length === 0) throw invalid('cert', 'names no DNS host (subjectAltName)');
    if (Date.parse(x509.validTo) <= Date.now()) throw invalid('cert', `expired on ${x509.validTo}`);
    const row: CertRow = {
      id: randomUUID(),
      names: JSON.stringify(names),
      source,
      fingerprint: x509.fingerprint256.replace(/:/g, '').toLowerCase(),
      not_before: new Date(x509.validFrom).toISOString(),
      not_after: new Date(x509.validTo).toISOString(),
      cert_pem: certPem.trim() + '\n',
      key_sealed: this.sealer.seal(key.export({ type: 'pkcs8', format: 'pem' }).toString()),
      created_at: new Date().toISOString(),
    };
    await this.db.insertInto('certificates').values(row).execute();
    this.changed();
    return view(row);
  }

  async list(): Promise<CertView[]> {
    const rows = await this.db.selectFrom('certificates').selectAll().orderBy('not_after', 'desc').execute();
    return rows.map(view);
  }

  async remove(id: string): Promise<void> {
    const r = await this.db.deleteFrom('certificates').where('id', '=', id).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw notFound(`certificate ${id}`);
    this.changed();
  }

  /** Valid certificates, for compile. */
  async inventory(): Promise<CertRef[]> {
    const now = new Date().toISOString();
    // A CA's clock may run a little ahead of ours: a certificate valid within the hour counts.
    const soon = new Date(Date.now() + 3_600_000).toISOString();
    const rows = await this.db
      .selectFrom('certificates')
      .select(['id', 'fingerprint', 'names', 'not_after', 'not_before', 'created_at'])
      .where('not_after', '>', now)
      .where('not_before', '<=', soon)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      fingerprint: r.fingerprint,
      names: JSON.parse(r.names) as string[],
      notAfter: r.not_after,
      notBefore: r.not_before,
      createdAt: r.created_at,
    }));
  }

  /** A certificate with its key, unsealed, for writing where nginx reads it. */
  async material(id: string): Promise<{ cert: string; key: string }> {
    const r = await this.db.selectFrom('certificates').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw new GatehouseError('cert_missing', `certificate ${id} is gone`, 500);
    return { cert: r.cert_pem, key: this.sealer.open(r.key_sealed) };
  }
}

function namesOf(x509: X509Certificate): string[] {
  const san = x509.subjectAltName ?? '';
  const names = san
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4).toLowerCase())
    .filter((n) => /^(?:\*\.)?[a-z0-9.-]+$/.test(n));
  return [...new Set(names)].sort();
}

function view(r: CertRow): CertView {
  return {
    id: r.id,
    fingerprint: r.fingerprint,
    names: JSON.parse(r.names) as string[],
    notAfter: r.not_after,
    notBefore: r.not_before,
    source: r.source,
    createdAt: r.created_at,
  };
}
