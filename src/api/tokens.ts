import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../store/files.js';

/** Where a generated token's hash is kept: `<dataDir>/secrets/<name>.sha256`. */
export const tokenFile = (dataDir: string, name: string): string =>
  join(dataDir, 'secrets', `${name}.sha256`);

/**
 * A bearer token known to Gatehouse only by its SHA-256, so the data directory holds no usable
 * secret. When no token is configured one is generated, its hash stored, and the token itself
 * handed back once so the caller can show it to the operator.
 */
export class TokenCheck {
  private constructor(private digest: Buffer) {}

  static fromToken(token: string): TokenCheck {
    return new TokenCheck(sha256(token));
  }

  /** Uses `configured` if given; otherwise the stored hash, or a newly generated token. */
  static async load(
    dataDir: string,
    name: string,
    configured?: string,
  ): Promise<{ check: TokenCheck; generated?: string }> {
    if (configured) return { check: TokenCheck.fromToken(configured) };
    const file = tokenFile(dataDir, name);
    const stored = await readFile(file, 'utf8').catch(() => undefined);
    if (stored && /^[0-9a-f]{64}$/.test(stored.trim()))
      return { check: new TokenCheck(Buffer.from(stored.trim(), 'hex')) };
    const token = await TokenCheck.newStored(dataDir, name);
    return { check: TokenCheck.fromToken(token), generated: token };
  }

  /** A new random token whose hash replaces the stored one (0600); the token itself is returned. */
  static async newStored(dataDir: string, name: string): Promise<string> {
    const token = randomBytes(24).toString('base64url');
    await mkdir(join(dataDir, 'secrets'), { recursive: true, mode: 0o700 });
    await writeFileAtomic(tokenFile(dataDir, name), sha256(token).toString('hex') + '\n', 0o600);
    return token;
  }

  /** From now on only `token` matches (rotation: the old one is refused at once). */
  useToken(token: string): void {
    this.digest = sha256(token);
  }

  /** Constant-time check of an `Authorization: Bearer …` header value. */
  matchesHeader(header: string | undefined): boolean {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!m) return false;
    return timingSafeEqual(sha256(m[1] as string), this.digest);
  }
}

/** One-shot (no Hash object): checked on every registration, ~half the cost of createHash. */
function sha256(s: string): Buffer {
  return hash('sha256', s, 'buffer');
}
