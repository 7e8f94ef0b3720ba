/** What compile knows of a certificate: its names and identity, never its key. */
export interface CertRef {
  id: string;
  /** SHA-256 of the certificate (hex): names the files nginx reads. */
  fingerprint: string;
  names: string[];
  notAfter: string;
  notBefore?: string;
  /** When Gatehouse got it: among equals, the newest wins. */
  createdAt?: string;
}

/** Whether a certificate name covers a host (a wildcard covers exactly one label). */
export function covers(name: string, host: string): boolean {
  if (name === host) return true;
  if (!name.startsWith('*.') || host.startsWith('*.')) return false;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot + 1) === name.slice(2);
}
