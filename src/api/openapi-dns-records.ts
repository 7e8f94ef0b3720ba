import { read } from './openapi-build.js';

/** External DNS records (docs/dns.md). */
export function dnsRecordPaths(): Record<string, object> {
  return {
    '/dns/records': {
      get: read(
        "External DNS records: per host public edges serve in a provider's zone, the sets it should have, what the provider answers, and its state (ok, pending, conflict, error) with the reason",
        ['Records', 'DnsRecords'],
      ),
    },
  };
}
