import { read } from './openapi-build.js';

/** DNS diagnostics (docs/dns.md, "Diagnostics"). */
export function dnsDoctorPaths(): Record<string, object> {
  return {
    '/dns/doctor': {
      get: read(
        "DNS diagnostics, asked now: per served host, what the public resolver (the zone's server, dns_doctor_resolver, or the system's) and the LAN resolver answer against what they should (ok, missing, wrong), whether its CAA records let the ACME CA issue, and whether each DNS provider answers (reachable, unreachable, timeout); every query time-limited (dns_doctor_timeout)",
        ['DNS diagnostics', 'DnsDoctor'],
      ),
    },
  };
}
