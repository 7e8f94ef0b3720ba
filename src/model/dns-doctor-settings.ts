import { z } from 'zod';
import { durationMs, durationSchema, hostnameSchema } from './values.js';

/** DNS diagnostics settings (src/dns/doctor.ts; docs/dns.md, "Diagnostics"). */
export const dnsDoctorSettings = {
  /**
   * Where `gatehouse doctor dns` asks what the public sees (IP:PORT); unset: an RFC 2136 zone's own
   * server (an exec hook's check_server), else the system resolver.
   */
  dns_doctor_resolver: z
    .string()
    .regex(/^(?:\[[0-9A-Fa-f:.]+\]|[0-9.]+):[0-9]{1,5}$/, 'IP:PORT of a DNS server, e.g. 192.0.2.53:53')
    .optional(),
  /**
   * The issuer domain CAA records must allow (`letsencrypt.org`); unset: the one of a well-known
   * acme_directory (Let's Encrypt, ZeroSSL, Google, Buypass, SSL.com).
   */
  dns_doctor_caa_issuer: hostnameSchema.optional(),
  /** Each diagnostic query's time limit. */
  dns_doctor_timeout: durationSchema
    .refine((d) => durationMs(d) >= 100 && durationMs(d) <= 60_000, 'from 100ms to 60s')
    .default('3s'),
};
