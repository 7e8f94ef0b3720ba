import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';

/**
 * TOTP second factor (RFC 6238: SHA-1, 6 digits, 30 s, the settings every authenticator app reads)
 * and one-time recovery codes. Secrets are sealed at rest by the caller; recovery codes are kept as
 * SHA-256 hashes only.
 */

const PERIOD_S = 30;

export interface Enrolment {
  secret: string;
  url: string;
}

export function newTotp(issuer: string, username: string): Enrolment {
  const secret = new Secret({ size: 20 }).base32;
  return { secret, url: totpUrl(issuer, username, secret) };
}

export function totpUrl(issuer: string, username: string, secret: string): string {
  return new TOTP({
    issuer,
    label: username,
    secret: Secret.fromBase32(secret),
    period: PERIOD_S,
  }).toString();
}

/**
 * The time step a code is valid for (one step of clock skew either way), or undefined. Callers keep
 * the last step used per user and refuse it again: a code works once.
 */
export function checkTotp(secret: string, code: string, now = Date.now()): number | undefined {
  if (!/^[0-9]{6}$/.test(code)) return undefined;
  const totp = new TOTP({ secret: Secret.fromBase32(secret), period: PERIOD_S });
  const delta = totp.validate({ token: code, timestamp: now, window: 1 });
  if (delta === null) return undefined;
  return Math.floor(now / 1000 / PERIOD_S) + delta;
}

export function totpCode(secret: string, now = Date.now()): string {
  return new TOTP({ secret: Secret.fromBase32(secret), period: PERIOD_S }).generate({ timestamp: now });
}

export function recoveryCodes(n = 10): { codes: string[]; hashes: string[] } {
  const codes = Array.from({ length: n }, () => {
    const hex = randomBytes(5).toString('hex');
    return `${hex.slice(0, 5)}-${hex.slice(5)}`;
  });
  return { codes, hashes: codes.map(hashRecovery) };
}

export function hashRecovery(code: string): string {
  return createHash('sha256').update(code.trim().toLowerCase()).digest('hex');
}

/** The QR code of an otpauth URL as inline SVG (the portal needs no JavaScript) or terminal text. */
export async function qrSvg(url: string): Promise<string> {
  return (await loadQr()).toString(url, { type: 'svg', margin: 2 });
}

export async function qrTerminal(url: string): Promise<string> {
  return (await loadQr()).toString(url, { type: 'terminal', small: true });
}

/** qrcode (with pngjs, ~1.5 MB of heap) is loaded when a QR code is first drawn. */
export async function loadQr(): Promise<typeof import('qrcode')> {
  return (await import('qrcode')).default;
}

/**
 * A short-lived signed value for a step between two forms (password accepted, code pending), so
 * the password is not sent twice and the step cannot be forged or replayed after it expires.
 */
export function signStep(
  key: string,
  purpose: string,
  value: Record<string, unknown>,
  ttlMs: number,
): string {
  const body = Buffer.from(JSON.stringify({ ...value, exp: Date.now() + ttlMs })).toString('base64url');
  return `${body}.${createHmac('sha256', key).update(`${purpose}\n${body}`).digest('base64url')}`;
}

export function openStep(key: string, purpose: string, token: string): Record<string, unknown> | undefined {
  const [body, mac] = token.split('.');
  if (!body || !mac) return undefined;
  const expected = Buffer.from(createHmac('sha256', key).update(`${purpose}\n${body}`).digest('base64url'));
  const given = Buffer.from(mac);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const v = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
    return typeof v.exp === 'number' && v.exp > Date.now() ? v : undefined;
  } catch {
    return undefined;
  }
}
