import { z } from 'zod';

/** GET /dns/doctor: DNS diagnostics (docs/dns.md, "Diagnostics"). */

const setView = z.strictObject({ type: z.string(), values: z.array(z.string()) });

export const dnsDoctorHostView = z.strictObject({
  host: z.string(),
  services: z.array(z.string()),
  /** The zone of the DNS provider that holds it; null: none does. */
  zone: z.string().nullable(),
  /** problem: something answers wrong or cannot be asked; warning: nothing to compare with; ok. */
  state: z.enum(['ok', 'warning', 'problem']),
  public: z.strictObject({
    /** not_public: only LAN edges serve it; unknown: nothing known it should point at. */
    state: z.enum(['ok', 'missing', 'wrong', 'unknown', 'error', 'not_public']),
    /** Gatehouse keeps its records (external records on, a provider's zone holds it). */
    managed: z.boolean(),
    /** Who was asked: IP:PORT, or "system resolver". */
    server: z.string(),
    expected: z.array(setView),
    actual: z.array(setView),
    message: z.string(),
  }),
  lan: z.strictObject({
    /** off: split horizon is off; skipped: left to the usual answer (the reason says why). */
    state: z.enum(['ok', 'missing', 'wrong', 'error', 'skipped', 'off']),
    server: z.string().nullable(),
    expected: z.array(z.string()),
    actual: z.array(z.string()),
    message: z.string(),
  }),
  caa: z.strictObject({
    /** For the configured ACME CA; unknown: no CA to judge for (issuers says who may issue). */
    state: z.enum(['allowed', 'denied', 'unknown', 'error']),
    /** The name whose CAA records decide; null: no CAA records up to the zone. */
    at: z.string().nullable(),
    records: z.array(z.string()),
    /** Issuer domains CAA allows; ["*"]: any CA. */
    issuers: z.array(z.string()),
    message: z.string(),
  }),
});

export const dnsDoctorProviderView = z.strictObject({
  name: z.string(),
  type: z.string(),
  zone: z.string(),
  state: z.enum(['reachable', 'unreachable', 'timeout', 'not_checked']),
  /** The server asked (rfc2136, an exec hook's check server); null: the provider's API. */
  server: z.string().nullable(),
  ms: z.number(),
  message: z.string(),
});

export const dnsDoctorView = z.strictObject({
  checked_at: z.string(),
  /** Nothing is wrong: no host in problem, every provider reachable. */
  ok: z.boolean(),
  /** Each query's time limit. */
  timeout_ms: z.number(),
  /** The issuer domain CAA is checked for (from acme_directory or dns_doctor_caa_issuer); null: none. */
  caa_issuer: z.string().nullable(),
  /** Where public answers are asked: dns_doctor_resolver, else per zone (see each host). */
  public_resolver: z.string().nullable(),
  external_records: z.boolean(),
  lan_dns: z.enum(['off', 'unbound', 'dnsmasq']),
  summary: z.strictObject({
    hosts: z.number(),
    ok: z.number(),
    warning: z.number(),
    problem: z.number(),
    providers_failing: z.number(),
  }),
  hosts: z.array(dnsDoctorHostView),
  providers: z.array(dnsDoctorProviderView),
});

export type DnsDoctorReport = z.output<typeof dnsDoctorView>;
export type DnsDoctorHost = z.output<typeof dnsDoctorHostView>;
export type DnsDoctorProvider = z.output<typeof dnsDoctorProviderView>;
