import { z } from 'zod';

/**
 * Connection and bandwidth limits (nginx's limit_conn and limit_rate). Set on the service, they
 * count across its routes; a route's own replace them and count for it alone.
 */
/** Bytes a second to each client connection: `512k`, `10m` (bytes, k = 1024, m = 1024 k). */
export const bandwidthSchema = z
  .string()
  .regex(/^[1-9][0-9]{0,8}[km]?$/, 'a rate in bytes a second: 512k, 10m or 65536')
  .refine((v) => bandwidthBytes(v) >= 1024, 'at least 1k a second');

export const limitsSchema = z
  .strictObject({
    /** Requests served at once (open connections in flight), all clients together; more get 429. */
    connections: z.number().int().min(1).max(1_000_000).optional(),
    /** Requests served at once from one client address; more get 429. */
    connections_per_client: z.number().int().min(1).max(100_000).optional(),
    /** Bytes a second to each client connection: `512k`, `10m` (bytes, k = 1024, m = 1024 k). */
    bandwidth: bandwidthSchema.optional(),
  })
  .refine((l) => Object.keys(l).length > 0, {
    message: 'say connections, connections_per_client or bandwidth',
  });

/** A bandwidth (limitsSchema) in bytes a second. */
export function bandwidthBytes(v: string): number {
  const unit = v.endsWith('k') ? 1024 : v.endsWith('m') ? 1024 * 1024 : 1;
  return Number.parseInt(v, 10) * unit;
}
