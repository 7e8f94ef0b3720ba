import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../store/files.js';

/** A WireGuard key pair, each key 32 bytes in base64 (what `wg genkey` / `wg pubkey` print). */
export interface WgKeyPair {
  privateKey: string;
  publicKey: string;
}

const b64 = (b64url: string) => Buffer.from(b64url, 'base64url').toString('base64');

/** A new X25519 key pair (the same curve and encoding as `wg genkey`). */
export function generateKeyPair(): WgKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const d = privateKey.export({ format: 'jwk' }).d ?? '';
  const x = publicKey.export({ format: 'jwk' }).x ?? '';
  return { privateKey: b64(d), publicKey: b64(x) };
}

/** The public key of a private one (`wg pubkey`). */
export function publicKeyOf(privateKey: string): string {
  const raw = Buffer.from(privateKey, 'base64');
  if (raw.length !== 32) throw new Error('a WireGuard private key is 32 bytes in base64');
  const key = createPrivateKey({
    key: { kty: 'OKP', crv: 'X25519', d: raw.toString('base64url'), x: '' },
    format: 'jwk',
  });
  return b64(createPublicKey(key).export({ format: 'jwk' }).x ?? '');
}

/**
 * This machine's key pair, kept in `dir/private.key` (0600, never sent anywhere): made at the first
 * start, read at every later one, so the public key the control plane holds stays valid.
 */
export async function loadOrCreateKeys(dir: string): Promise<WgKeyPair> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'private.key');
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text !== undefined) {
    const privateKey = text.trim();
    return { privateKey, publicKey: publicKeyOf(privateKey) };
  }
  const pair = generateKeyPair();
  await writeFileAtomic(file, `${pair.privateKey}\n`, 0o600);
  return pair;
}
