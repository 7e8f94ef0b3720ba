import { z } from 'zod';
import { bandwidthSchema } from './limits.js';
import { durationMs, durationSchema, slugSchema } from './values.js';

/** A temporary link: opening it admits the visitor's IP to a service for the link's lifetime. */
export const linkCreateSchema = z.strictObject({
  service: slugSchema,
  ttl: durationSchema
    .refine((d) => !/^[0-9]+(?:ms|s|m|h)$/.test(d) || durationMs(d) >= 1000, 'at least 1s')
    .default('24h'),
  /** Distinct client addresses the link admits; a further one is refused. */
  max_ips: z.number().int().min(1).max(1000).default(1),
  /** Asked for before admitting (stored as an argon2id hash). */
  password: z.string().min(4, 'at least 4 characters').max(256).optional(),
  note: z
    .string()
    .max(256)
    .regex(/^\P{Cc}*$/u, 'no control characters')
    .default(''),
  /** Bytes a second to each connection of an address it admitted: `512k`, `10m`; absent: no limit. */
  bandwidth: bandwidthSchema.optional(),
  /** Which of the service's hosts the URL names (default: its first). */
  host: z.string().max(253).optional(),
});

export type LinkCreate = z.output<typeof linkCreateSchema>;

export interface LinkView {
  id: string;
  service: string;
  created_at: string;
  expires_at: string;
  max_ips: number;
  has_password: boolean;
  note: string;
  /** As given (`512k`); null: no limit. */
  bandwidth: string | null;
  revoked: boolean;
  state: 'active' | 'expired' | 'revoked';
  ips: { ip: string; first_at: string }[];
}
