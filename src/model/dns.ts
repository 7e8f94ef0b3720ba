import { z } from 'zod';
import { hostnameSchema, slugSchema, tcpUpstreamSchema } from './values.js';

const zone = hostnameSchema.refine((z) => !z.startsWith('*.'), 'a zone, not a wildcard');
const apiUrl = z.url({ protocol: /^https?$/, error: 'the API base URL' }).max(512);
const token = z
  .string()
  .min(8)
  .max(512)
  .regex(/^[\x21-\x7e]+$/, 'a token of printable characters');

/** A DNS provider for ACME DNS-01. The secret (TSIG key, API token) is stored sealed. */
export const dnsProviderSchema = z.discriminatedUnion('type', [
  /** RFC 2136 dynamic updates signed with TSIG (BIND, Knot, PowerDNS). */
  z.strictObject({
    name: slugSchema,
    type: z.literal('rfc2136'),
    zone,
    /** The zone's primary server, IP:port: updates go there, and propagation is checked there. */
    server: tcpUpstreamSchema,
    tsig_name: z.string().regex(/^[A-Za-z0-9._-]{1,253}$/, 'a TSIG key name'),
    tsig_algorithm: z.enum(['hmac-sha256', 'hmac-sha512']).default('hmac-sha256'),
    tsig_secret: z.base64('the TSIG secret, base64').min(16).max(512),
  }),
  z.strictObject({
    name: slugSchema,
    type: z.literal('cloudflare'),
    zone,
    api_token: token,
    api_url: apiUrl.default('https://api.cloudflare.com/client/v4'),
    /** Servers (IP:port) to check before the CA looks; default: the zone's authoritative servers. */
    propagation_servers: z.array(tcpUpstreamSchema).max(8).optional(),
  }),
  z.strictObject({
    name: slugSchema,
    type: z.literal('hetzner'),
    zone,
    api_token: token,
    api_url: apiUrl.default('https://dns.hetzner.com/api/v1'),
    propagation_servers: z.array(tcpUpstreamSchema).max(8).optional(),
  }),
]);

export type DnsProviderInput = z.output<typeof dnsProviderSchema>;

export interface DnsProviderView {
  name: string;
  type: string;
  zone: string;
  /** Everything but the secret. */
  config: Record<string, unknown>;
  created_at: string;
}
