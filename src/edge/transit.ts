import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

/** The path prefix under which edges reach the gate (login portal, slow-path checks). */
export const EDGE_GATE_PREFIX = '/edge/v1/gate';
/** The header that carries the node token on gate requests (Authorization may be a user's). */
export const NODE_TOKEN_HEADER = 'x-gatehouse-node';
/** The gate state (`epoch:seq`) a gate answer rests on: the edge holds the answer until it has it. */
export const STATE_HEADER = 'x-gatehouse-state';
/** The Host the client asked the edge for (the relay's own Host names the control plane). */
export const ORIGINAL_HOST_HEADER = 'x-gatehouse-host';

/** Headers that describe one connection, not the message: never relayed. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** A relayed message's headers without hop-by-hop ones (and those the Connection header names). */
export function endToEnd<T extends Record<string, string | string[] | undefined>>(headers: T): T {
  const named = String(headers.connection ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase());
  const out = { ...headers };
  for (const k of Object.keys(out)) if (HOP_BY_HOP.has(k) || named.includes(k)) delete out[k];
  return out;
}

/**
 * Secrets on their way to an edge (the session key, certificates' keys) are sealed with AES-256-GCM
 * under a key derived from the node token. The control plane keeps only the token's SHA-256, the
 * edge has the token: both derive the same key, and someone who only sees the traffic (a plain-HTTP
 * control URL over a tunnel, a logging proxy) learns nothing.
 */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function transitKey(tokenHashHex: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(tokenHashHex, 'hex'), '', 'gatehouse edge feed v1', 32));
}

/** AES-256-GCM: iv (12) | tag (16) | ciphertext of the value as JSON. */
export function sealWith(key: Buffer, value: unknown): Buffer {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  const data = Buffer.concat([c.update(JSON.stringify(value), 'utf8'), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), data]);
}

/** Throws when the box was not sealed with this key, was altered or is cut short. */
export function openWith<T>(key: Buffer, raw: Buffer): T {
  if (raw.length < 28) throw new Error('sealed data too short');
  const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12), { authTagLength: 16 });
  d.setAuthTag(raw.subarray(12, 28));
  return JSON.parse(Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8')) as T;
}

export function sealForNode(tokenHashHex: string, value: unknown): string {
  return sealWith(transitKey(tokenHashHex), value).toString('base64');
}

/** Throws when the box was not sealed for this token or was altered. */
export function openAsNode<T>(token: string, sealed: string): T {
  return openWith<T>(transitKey(tokenHash(token)), Buffer.from(sealed, 'base64'));
}
