import { isAbsolute, normalize } from 'node:path';
import { z } from 'zod';
import { hostnameSchema, parseEndpoint, slugSchema } from './values.js';

const zone = hostnameSchema.refine((z) => !z.startsWith('*.'), 'a zone, not a wildcard');
const apiUrl = z.url({ protocol: /^https?$/, error: 'the API base URL' }).max(512);
const token = z
  .string()
  .min(8)
  .max(512)
  .regex(/^[\x21-\x7e]+$/, 'a token of printable characters');
/** A DNS server's address: an IP and a port (no name: it would need a DNS server to be found). */
const dnsServerSchema = z.string().superRefine((s, ctx) => {
  if (typeof parseEndpoint(s, false, false) === 'string')
    ctx.addIssue({
      code: 'custom',
      message: 'a DNS server as IP:port (e.g. 192.0.2.53:53, [2001:db8::53]:53)',
    });
});

/** Servers (IP:port) to check before the CA looks; default: the zone's authoritative servers. */
const propagationServers = z.array(dnsServerSchema).max(8).optional();

/** Variables an exec hook gets from the operator (API keys of the DNS service it scripts). */
const hookEnv = z
  .record(
    z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'an environment variable name')
      .refine(
        (k) => !k.startsWith('GATEHOUSE_') && k !== 'PATH',
        'PATH and GATEHOUSE_* are set by Gatehouse',
      ),
    z
      .string()
      .max(4096)
      .regex(/^[^\0]*$/, 'no NUL characters'),
  )
  .refine((e) => Object.keys(e).length <= 32, 'at most 32 variables')
  .default({});

/**
 * A DNS provider: DNS-01 for certificates, and record sets (A, AAAA, CNAME, TXT) for external
 * records. Secrets (TSIG key, API token, OVH application secret and consumer key, an exec hook's
 * environment) are stored sealed and never shown.
 */
export const dnsProviderSchema = z.discriminatedUnion('type', [
  /** RFC 2136 dynamic updates signed with TSIG (BIND, Knot, PowerDNS). */
  z.strictObject({
    name: slugSchema,
    type: z.literal('rfc2136'),
    zone,
    /** The zone's primary server, IP:port: updates go there, and propagation is checked there. */
    server: dnsServerSchema,
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
    propagation_servers: propagationServers,
  }),
  z.strictObject({
    name: slugSchema,
    type: z.literal('hetzner'),
    zone,
    api_token: token,
    api_url: apiUrl.default('https://dns.hetzner.com/api/v1'),
    propagation_servers: propagationServers,
  }),
  /** OVH's API v1: an application (key + secret) and a consumer key allowed on /domain/zone/<zone>. */
  z.strictObject({
    name: slugSchema,
    type: z.literal('ovh'),
    zone,
    endpoint: apiUrl.default('https://eu.api.ovh.com/1.0'),
    application_key: z.string().regex(/^[A-Za-z0-9]{8,64}$/, 'an OVH application key (letters, digits)'),
    application_secret: token,
    consumer_key: token,
    propagation_servers: propagationServers,
  }),
  /** An operator's script called as lego's `exec` provider and acme.sh hooks are (docs/dns.md). */
  z.strictObject({
    name: slugSchema,
    type: z.literal('exec'),
    zone,
    command: z
      .string()
      .min(2)
      .max(1024)
      .refine((p) => isAbsolute(p) && normalize(p) === p, 'an absolute, normalized path of a script'),
    timeout_s: z.int().min(1).max(600).default(60),
    /** A server (IP:port) answering for the zone: what get() and DNS-01's wait ask. */
    check_server: dnsServerSchema.optional(),
    env: hookEnv,
  }),
]);

export type DnsProviderInput = z.output<typeof dnsProviderSchema>;

/** The fields of each type that are sealed (the rest is shown as `config`). */
export const SEALED_FIELDS = {
  rfc2136: ['tsig_secret'],
  cloudflare: ['api_token'],
  hetzner: ['api_token'],
  ovh: ['application_secret', 'consumer_key'],
  exec: ['env'],
} as const satisfies Record<DnsProviderInput['type'], readonly string[]>;

/**
 * Whether a provider holds its zone, asked when it is added (and by diagnostics): `absent` (it
 * answered: the zone is not there, bad input), `unreachable` (no answer: down, slow, credentials
 * refused; nothing is known), `held`.
 */
export interface ZoneCheck {
  state: 'held' | 'absent' | 'unreachable';
  /** Why, when not held. */
  message?: string;
}

export interface DnsProviderView {
  name: string;
  type: string;
  zone: string;
  /** Everything but the secret. */
  config: Record<string, unknown>;
  created_at: string;
  /** When it was added: whether the provider holds the zone (exec hooks cannot tell). */
  zone_check?: ZoneCheck;
}
