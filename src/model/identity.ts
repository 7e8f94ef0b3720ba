import { z } from 'zod';
import { slugSchema } from './values.js';

/**
 * Users and groups: one schema each for the API, the CLI and the UI. Values reach upstreams as
 * identity headers (Remote-User, X-Email, ...), so none may hold control characters, and group names
 * are slugs because Remote-Groups joins them with commas.
 */

const headerSafe = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[^\p{Cc},]*$/u, 'no control characters or commas');

export const usernameSchema = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9._-]{0,63}$/,
    'lowercase letters, digits and ._- (up to 64), starting with a letter or digit',
  );

export const passwordSchema = z.string().min(8, 'at least 8 characters').max(256, 'at most 256 characters');

export const groupNameSchema = slugSchema;

export const roleSchema = z.enum(['admin', 'user']);

export const userCreateSchema = z.strictObject({
  username: usernameSchema,
  password: passwordSchema.optional(),
  email: z.union([z.literal(''), z.email('not an email address').max(254)]).default(''),
  name: headerSafe(128).default(''),
  first_name: headerSafe(64).default(''),
  last_name: headerSafe(64).default(''),
  role: roleSchema.default('user'),
  groups: z.array(groupNameSchema).max(64).default([]),
});

export const userUpdateSchema = z.strictObject({
  password: passwordSchema.optional(),
  email: z.union([z.literal(''), z.email('not an email address').max(254)]).optional(),
  name: headerSafe(128).optional(),
  first_name: headerSafe(64).optional(),
  last_name: headerSafe(64).optional(),
  role: roleSchema.optional(),
  groups: z.array(groupNameSchema).max(64).optional(),
  disabled: z.boolean().optional(),
});

export const groupCreateSchema = z.strictObject({
  name: groupNameSchema,
  description: z
    .string()
    .max(256)
    .regex(/^\P{Cc}*$/u, 'no control characters')
    .default(''),
});

export type UserCreate = z.output<typeof userCreateSchema>;
export type UserUpdate = z.output<typeof userUpdateSchema>;
export type GroupCreate = z.output<typeof groupCreateSchema>;
export type Role = z.output<typeof roleSchema>;

/** A user as the API shows it: never a hash or a secret. */
export interface UserView {
  id: string;
  username: string;
  email: string;
  name: string;
  first_name: string;
  last_name: string;
  role: Role;
  groups: string[];
  disabled: boolean;
  has_password: boolean;
  totp: boolean;
  /** The edge file that manages the user ('' : the API's own). */
  managed_by: string;
  created_at: string;
  updated_at: string;
}

/** What a session says about its user; what identity headers carry upstream. */
export interface Identity {
  uid: string;
  username: string;
  email: string;
  name: string;
  first_name: string;
  last_name: string;
  groups: string[];
}
