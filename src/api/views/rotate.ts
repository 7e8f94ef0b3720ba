import { z } from 'zod';

/** POST /rotate/{kind} (src/api/rotate.ts). */

export const ROTATE_KINDS = [
  'admin-token',
  'register-token',
  'node-token',
  'session-key',
  'data-key',
] as const;

/** What a rotation did. A new token is in the answer once, and nowhere else. */
export const rotatedView = z.strictObject({
  kind: z.enum(ROTATE_KINDS),
  /** The new token (admin-token, register-token, node-token): shown this once. */
  token: z.string().optional(),
  /** node-token: the node, and the command that starts its agent with the new token. */
  node: z.string().optional(),
  command: z.string().optional(),
  /** session-key: until when sessions signed with the previous key still verify (ISO time). */
  previous_valid_until: z.string().optional(),
  /** data-key: how many sealed values were re-sealed, and where the key now comes from. */
  resealed: z.number().optional(),
  key_source: z.enum(['file', 'secret']).optional(),
  /** What the operator does next, in words. */
  message: z.string(),
});
export type Rotated = z.infer<typeof rotatedView>;
