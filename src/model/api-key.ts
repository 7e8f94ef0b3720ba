import { z } from 'zod';
import { usernameSchema } from './identity.js';
import { slugSchema } from './values.js';

/**
 * API keys: how headless clients (scripts, CI, mobile apps) pass a route whose access says
 * `api_keys`. The contract between the gate, which makes keys and writes their files, and nginx's
 * Lua check (drivers/nginx/gate-lua.ts), which reads a key's file on each request that carries one.
 *
 * A key is `ghk_<id>_<secret>`: 16 hex digits naming it, 43 base64url characters of randomness.
 * Only its SHA-256 is stored. Each service a key may open has a file `k/<service>/<id>` holding
 * `<expiry ms, 0 for never> <base64url SHA-256 of the whole key> <base64url JSON identity>`
 * (gate/api-keys.ts writes them); removing the file revokes the key there at once. No Node imports
 * here: the web UI uses these schemas too.
 */
export const API_KEY = {
  prefix: 'ghk_',
  idHexDigits: 16,
  /** The header a key rides in unless a route names another: `Authorization: Bearer <key>`. */
  scheme: 'Bearer',
} as const;

/** A key's lifetime: hours or days, up to ten years; absent, it holds until revoked. */
export const apiKeyTtlSchema = z
  .string()
  .regex(/^[1-9][0-9]{0,5}[hd]$/, 'a lifetime such as 12h, 30d or 365d')
  .refine((t) => ttlMs(t) <= 3650 * 86_400_000, 'at most 3650d');

export function ttlMs(ttl: string): number {
  const n = Number(ttl.slice(0, -1));
  return ttl.endsWith('d') ? n * 86_400_000 : n * 3_600_000;
}

export const apiKeyCreateSchema = z.strictObject({
  name: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[^\p{Cc},]+$/u, 'no control characters or commas'),
  /** The services it opens (each needs a route with `access.api_keys`). */
  services: z.array(slugSchema).min(1).max(64),
  /** Acts as this user: their identity headers, and their groups where a route names groups. */
  user: usernameSchema.optional(),
  ttl: apiKeyTtlSchema.optional(),
});
export type ApiKeyCreate = z.output<typeof apiKeyCreateSchema>;

/** A route's `access.api_keys`: `true` for `Authorization: Bearer`, or the one header to read. */
export const apiKeysAccessSchema = z.union([
  z.literal(true),
  z.strictObject({
    header: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,64}$/, 'letters, digits and hyphens (up to 64)')
      .refine((h) => h.toLowerCase() !== 'cookie', 'not Cookie'),
  }),
]);
export type ApiKeysAccess = z.output<typeof apiKeysAccessSchema>;
