import { z } from 'zod';

/** External DNS records (docs/dns.md) as GET /dns/records answers them. */

const recordSetView = z.strictObject({
  name: z.string(),
  type: z.enum(['A', 'AAAA', 'CNAME', 'TXT']),
  ttl: z.number(),
  values: z.array(z.string()),
});

/** One host: the sets it should have at its zone's provider, what the provider answered, the state. */
export const hostRecordsView = z.strictObject({
  host: z.string(),
  zone: z.string(),
  services: z.array(z.string()),
  /** ok: in place; pending: about to be written; conflict: a set Gatehouse did not create; error: failing (retried). */
  state: z.enum(['ok', 'pending', 'conflict', 'error']),
  desired: z.array(recordSetView),
  actual: z.array(recordSetView),
  message: z.string(),
  updated_at: z.string(),
  retry_at: z.string().nullable(),
});

export const dnsRecordsView = z.strictObject({
  /** dns_records is on. */
  enabled: z.boolean(),
  /** This replica writes them (another answers what it reads, writing nothing). */
  leading: z.boolean(),
  /** The installation id the ownership TXT records carry. */
  owner: z.string(),
  target: z.strictObject({ type: z.enum(['addresses', 'cname', 'none']), values: z.array(z.string()) }),
  last_full_pass: z.string().nullable(),
  records: z.array(hostRecordsView),
});

export type DnsRecordsList = z.infer<typeof dnsRecordsView>;
