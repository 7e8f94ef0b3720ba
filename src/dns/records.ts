import { Resolver } from 'node:dns/promises';
import type { ZoneCheck } from '../model/dns.js';
import { GatehouseError } from '../model/errors.js';

export type { ZoneCheck };

/** The record types Gatehouse manages at a provider (beside DNS-01's TXT challenges). */
export const RECORD_TYPES = ['A', 'AAAA', 'CNAME', 'TXT'] as const;
export type RecordType = (typeof RECORD_TYPES)[number];

/** One record set: every value of one type at one name. */
export interface RecordSet {
  /** Fully qualified, lower case, no trailing dot. */
  name: string;
  type: RecordType;
  /** Seconds. */
  ttl: number;
  /** Addresses (A, AAAA), one target host (CNAME, no trailing dot), text (TXT, unquoted). */
  values: string[];
}

/**
 * What external records need of a DNS provider (DnsProvider in rfc2136.ts is what DNS-01 needs).
 * Operations are per record set, as external-dns does: a set is replaced whole, never merged, so a
 * retried write converges.
 */
export interface RecordProvider {
  readonly zone: string;
  /** The sets at `name`, of the types in RECORD_TYPES (none: []). */
  get(name: string): Promise<RecordSet[]>;
  /** Replaces the set (name, type) with `set.values` in one change. */
  put(set: RecordSet): Promise<void>;
  /** Removes the set (name, type); a set that is not there is not an error. */
  remove(name: string, type: RecordType): Promise<void>;
}

/** A name is inside `zone` (the apex counts). */
export function inZone(name: string, zone: string): boolean {
  return name === zone || name.endsWith(`.${zone}`);
}

/** Refuses a set whose name is outside the provider's zone, or whose values do not fit its type. */
export function checkSet(zone: string, set: RecordSet): void {
  if (!inZone(set.name, zone))
    throw new GatehouseError('dns_outside_zone', `${set.name} is not inside the zone ${zone}`, 400);
  if (!Number.isInteger(set.ttl) || set.ttl < 1 || set.ttl > 86_400)
    throw new GatehouseError('dns_bad_record', `${set.name}: ttl must be 1-86400 s`, 400);
  if (set.values.length === 0)
    throw new GatehouseError('dns_bad_record', `${set.name} ${set.type}: no values (remove it instead)`, 400);
  if (set.type === 'CNAME' && set.values.length !== 1)
    throw new GatehouseError('dns_bad_record', `${set.name}: a CNAME has exactly one target`, 400);
}

/** Reads the sets at `name` from a DNS server (IP:port) by asking it directly. */
export async function querySets(server: string, name: string): Promise<RecordSet[]> {
  const r = new Resolver({ timeout: 2000, tries: 2 });
  r.setServers([server]);
  const none = (err: unknown): never[] => {
    const code = (err as { code?: string }).code;
    if (code === 'ENODATA' || code === 'ENOTFOUND') return [];
    throw new GatehouseError(
      'dns_query_failed',
      `${name}: ${server} did not answer (${code ?? String(err)})`,
      502,
    );
  };
  const [a, aaaa, cname, txt] = await Promise.all([
    r.resolve4(name, { ttl: true }).catch(none),
    r.resolve6(name, { ttl: true }).catch(none),
    r.resolveCname(name).catch(none),
    r.resolveTxt(name).catch(none),
  ]);
  const sets: RecordSet[] = [];
  // A set has no order (servers rotate it, BIND's rrset-order is cyclic): sorted, so reads compare.
  const sorted = (v: string[]): string[] => v.sort();
  // A CNAME answer also carries its target's addresses: those are not records at this name.
  if (cname.length > 0) return [{ name, type: 'CNAME', ttl: 60, values: [cname[0] as string] }];
  if (a.length) sets.push({ name, type: 'A', ttl: a[0]?.ttl ?? 60, values: sorted(a.map((x) => x.address)) });
  if (aaaa.length)
    sets.push({ name, type: 'AAAA', ttl: aaaa[0]?.ttl ?? 60, values: sorted(aaaa.map((x) => x.address)) });
  if (txt.length) sets.push({ name, type: 'TXT', ttl: 60, values: sorted(txt.map((x) => x.join(''))) });
  return sets;
}

/** How long a zone check waits for the provider. */
export const ZONE_CHECK_MS = 3000;

/**
 * Runs `probe` (a read that fails when the zone is not there) with a time limit; never throws. An
 * answer that says the zone is unknown (dns_zone_unknown, or HTTP 404 from a vendor's API) is
 * `absent`; any other failure `unreachable`.
 */
export async function checkZoneWith(
  probe: () => Promise<unknown>,
  timeoutMs = ZONE_CHECK_MS,
): Promise<ZoneCheck> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<ZoneCheck>((resolve) => {
    timer = setTimeout(
      () => resolve({ state: 'unreachable', message: `no answer within ${timeoutMs} ms` }),
      timeoutMs,
    );
  });
  const asked = probe().then(
    (): ZoneCheck => ({ state: 'held' }),
    (err: unknown): ZoneCheck => {
      const message = err instanceof Error ? err.message : String(err);
      const absent = (err as { code?: string }).code === 'dns_zone_unknown' || /HTTP 404\b/.test(message);
      return { state: absent ? 'absent' : 'unreachable', message };
    },
  );
  try {
    return await Promise.race([asked, late]);
  } finally {
    clearTimeout(timer);
  }
}
