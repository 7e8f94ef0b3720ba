import { z } from 'zod';

/** GET /dns/lan: what the LAN resolver should answer against what it answers (split horizon). */

const skippedView = z.strictObject({ name: z.string(), service: z.string(), reason: z.string() });

export const lanDnsView = z.strictObject({
  mode: z.enum(['off', 'unbound', 'dnsmasq']),
  /** Where the resolver answers (lan_dns_server), asked for each host. */
  server: z.string(),
  /** The addresses LAN clients are given, and where they came from. */
  addresses: z.array(z.string()),
  address_source: z.enum(['setting', 'lan-nodes', 'none']),
  last_sync: z.strictObject({ at: z.string(), changed: z.number(), ms: z.number() }).nullable(),
  last_error: z.strictObject({ at: z.string(), message: z.string() }).nullable(),
  in_sync: z.boolean(),
  hosts: z.array(
    z.strictObject({
      name: z.string(),
      service: z.string(),
      asked: z.string(),
      expected: z.array(z.string()),
      answered: z.array(z.string()).nullable(),
      ok: z.boolean(),
      error: z.string().optional(),
    }),
  ),
  skipped: z.array(skippedView),
  /** The Unbound Gatehouse runs itself (lan_dns_unbound_listen), if it does. */
  managed: z
    .strictObject({
      running: z.boolean(),
      pid: z.number().optional(),
      restarts: z.number(),
      listen: z.array(z.string()),
      error: z.string().optional(),
    })
    .optional(),
});
export type LanDnsView = z.output<typeof lanDnsView>;
