import { z } from 'zod';
import { hostnameSchema, slugSchema, tcpUpstreamSchema } from './values.js';

/** A DNS provider for ACME DNS-01: RFC 2136 dynamic updates signed with TSIG (BIND, Knot, PowerDNS). */
export const dnsProviderSchema = z.strictObject({
  name: slugSchema,
  type: z.literal('rfc2136'),
  /** The zone it may change; names under it are validated through it. */
  zone: hostnameSchema.refine((z) => !z.startsWith('*.'), 'a zone, not a wildcard'),
  /** The zone's primary server, IP:port: updates go there, and propagation is checked there. */
  server: tcpUpstreamSchema,
  tsig_name: z.string().regex(/^[A-Za-z0-9._-]{1,253}$/, 'a TSIG key name'),
  tsig_algorithm: z.enum(['hmac-sha256', 'hmac-sha512']).default('hmac-sha256'),
  tsig_secret: z.base64('the TSIG secret, base64').min(16).max(512),
});

export type DnsProviderInput = z.output<typeof dnsProviderSchema>;

export interface DnsProviderView {
  name: string;
  type: string;
  zone: string;
  server: string;
  tsig_name: string;
  tsig_algorithm: string;
  created_at: string;
}
