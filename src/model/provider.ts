import { z } from 'zod';
import { groupNameSchema } from './identity.js';
import { slugSchema } from './values.js';

const claimName = z.string().regex(/^[A-Za-z0-9_:./-]{1,128}$/, 'a claim name');

/** An OpenID Connect provider users may sign in through (authorization code + PKCE). */
export const providerCreateSchema = z.strictObject({
  name: slugSchema,
  /** What the portal's button says: "Sign in with <label>". */
  label: z
    .string()
    .min(1)
    .max(64)
    .regex(/^\P{Cc}*$/u, 'no control characters')
    .optional(),
  issuer: z
    .url({ protocol: /^https?$/, error: 'an http(s) URL (the issuer, as in its discovery document)' })
    .max(512),
  client_id: z.string().min(1).max(256),
  client_secret: z.string().min(1).max(1024),
  scopes: z
    .array(z.string().regex(/^[\x21-\x7e]{1,64}$/, 'a scope'))
    .max(32)
    .default(['openid', 'email', 'profile', 'groups']),
  /** Claim holding the user's groups at the provider. */
  groups_claim: claimName.default('groups'),
  /** Claim that becomes the local username (falls back to email, then subject). */
  username_claim: claimName.default('preferred_username'),
  /** Provider group → local group. */
  group_map: z.record(z.string().min(1).max(256), groupNameSchema).default({}),
  /** Also grant unmapped provider groups that have a local group's name (off: only mapped ones). */
  groups_passthrough: z.boolean().default(false),
});

export type ProviderCreate = z.output<typeof providerCreateSchema>;

export interface ProviderView {
  name: string;
  label: string;
  issuer: string;
  client_id: string;
  scopes: string[];
  groups_claim: string;
  username_claim: string;
  group_map: Record<string, string>;
  groups_passthrough: boolean;
  created_at: string;
}
