import { Resolver } from 'node:dns/promises';
import { isIPv4, isIPv6 } from 'node:net';
import { GatehouseError } from '../model/errors.js';
import {
  checkSet,
  checkZoneWith,
  inZone,
  RECORD_TYPES,
  type RecordProvider,
  type RecordSet,
  type RecordType,
  type ZoneCheck,
} from './records.js';
import type { DnsProvider } from './rfc2136.js';

/** Settings every HTTP-API DNS provider shares. */
export interface HttpDnsConfig {
  zone: string;
  token: string;
  /** The vendor's API base URL (its public one unless overridden: a fake in tests). */
  apiUrl: string;
  /** Servers (IP:port) that must answer the record before the CA looks; default: the zone's NS. */
  propagationServers?: string[];
}

/** One HTTP call to a vendor's API; any answer but 2xx is an error naming the call and the status. */
export async function call<T>(url: string, init: RequestInit, what: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
  } catch (err) {
    throw new GatehouseError('dns_api_unreachable', `${what}: ${(err as Error).message}`, 502);
  }
  const text = await res.text();
  if (!res.ok)
    throw new GatehouseError('dns_api_refused', `${what}: HTTP ${res.status} ${text.slice(0, 200)}`, 502);
  try {
    return (text ? JSON.parse(text) : {}) as T;
  } catch {
    throw new GatehouseError('dns_api_refused', `${what}: not JSON: ${text.slice(0, 80)}`, 502);
  }
}

/** Waits until every server answers the TXT value (the zone's authoritative servers when none given). */
export async function propagated(
  zone: string,
  given: string[] | undefined,
  fqdn: string,
  value: string,
  timeoutMs: number,
): Promise<void> {
  let servers = given ?? [];
  if (servers.length === 0) {
    const sys = new Resolver();
    const ns = await sys.resolveNs(zone).catch(() => [] as string[]);
    servers = (await Promise.all(ns.map((n) => sys.resolve4(n).catch(() => [] as string[])))).flat();
  }
  if (servers.length === 0)
    throw new GatehouseError('dns_propagation', `${zone}: no authoritative server found`, 502);
  const deadline = Date.now() + timeoutMs;
  for (const server of servers) {
    const r = new Resolver({ timeout: 2000, tries: 1 });
    r.setServers([server]);
    for (;;) {
      const txt = await r.resolveTxt(fqdn).catch(() => [] as string[][]);
      if (txt.some((x) => x.join('') === value)) break;
      if (Date.now() > deadline) {
        throw new GatehouseError('dns_propagation', `${fqdn}: not on ${server} in time`, 504);
      }
      await new Promise((res) => setTimeout(res, 1000));
    }
  }
}

const HOST = /^[a-z0-9_*][a-z0-9._-]{0,252}$/;

/** checkSet, and every value fits its type (an address, a host name, printable text). */
export function checkRecordSet(zone: string, set: RecordSet): void {
  checkSet(zone, set);
  if (!HOST.test(set.name)) throw badValue(set.name, set.name);
  for (const v of set.values) {
    const ok =
      set.type === 'A'
        ? isIPv4(v)
        : set.type === 'AAAA'
          ? isIPv6(v)
          : set.type === 'CNAME'
            ? HOST.test(v)
            : /^[\x20-\x7e]{0,255}$/.test(v) && !/["\\]/.test(v);
    if (!ok) throw badValue(set.name, `${set.type} ${v}`);
  }
}

/** A name to remove at, checked like a set's. */
export function checkName(zone: string, name: string): void {
  if (!inZone(name, zone))
    throw new GatehouseError('dns_outside_zone', `${name} is not inside the zone ${zone}`, 400);
  if (!HOST.test(name)) throw badValue(name, name);
}

function badValue(name: string, what: string): GatehouseError {
  return new GatehouseError(
    'dns_bad_record',
    `${name}: refusing an unsafe record: ${what.slice(0, 80)}`,
    400,
  );
}

/** One record as a vendor's API holds it (one value of a set). */
export interface ApiRecord {
  id: string;
  value: string;
  ttl: number;
}

/** What turns a set's records at a vendor into `set`: update some in place, delete extras, create missing. */
export interface SetChange {
  update: { id: string; value: string }[];
  remove: string[];
  create: string[];
}

/** The fewest calls that make `existing` hold exactly `set.values` with `set.ttl`. */
export function reconcile(existing: ApiRecord[], set: RecordSet): SetChange {
  const wanted = [...new Set(set.values)];
  const left = [...existing];
  const change: SetChange = { update: [], remove: [], create: [] };
  const missing: string[] = [];
  for (const value of wanted) {
    const i =
      left.findIndex((r) => r.value === value && r.ttl === set.ttl) >= 0
        ? left.findIndex((r) => r.value === value && r.ttl === set.ttl)
        : left.findIndex((r) => r.value === value);
    const found = i >= 0 ? left.splice(i, 1)[0] : undefined;
    if (!found) missing.push(value);
    else if (found.ttl !== set.ttl) change.update.push({ id: found.id, value });
  }
  for (const value of missing) {
    const reuse = left.shift();
    if (reuse) change.update.push({ id: reuse.id, value });
    else change.create.push(value);
  }
  change.remove = left.map((r) => r.id);
  return change;
}

/** Text as written to a vendor and read back (some answer TXT quoted, CNAME targets with a dot). */
export function plain(type: string, value: string): string {
  if (type === 'TXT' && value.length >= 2 && value.startsWith('"') && value.endsWith('"'))
    return value.slice(1, -1).replace(/"\s*"/g, '');
  return type === 'CNAME' ? value.replace(/\.$/, '').toLowerCase() : value;
}

/** Records of one name grouped into sets of the managed types. */
export function toSets(name: string, records: { type: string; value: string; ttl: number }[]): RecordSet[] {
  const sets: RecordSet[] = [];
  for (const type of RECORD_TYPES) {
    const of = records.filter((r) => r.type === type);
    const first = of[0];
    if (first) sets.push({ name, type, ttl: first.ttl, values: of.map((r) => plain(type, r.value)) });
  }
  return sets;
}

interface CfRecord {
  id: string;
  type: string;
  name: string;
  content: string;
  ttl: number;
}

/** Cloudflare's API (v4), with an API token allowed to edit the zone's DNS. */
export class CloudflareProvider implements DnsProvider, RecordProvider {
  readonly zone: string;
  private zoneId: string | undefined;

  constructor(private readonly c: HttpDnsConfig) {
    this.zone = c.zone;
  }

  private api<T>(path: string, what: string, method = 'GET', body?: unknown): Promise<T> {
    const headers = { authorization: `Bearer ${this.c.token}`, 'content-type': 'application/json' };
    const init = { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) };
    return call<T>(`${this.c.apiUrl}${path}`, init, `Cloudflare ${what}`);
  }

  private async id(): Promise<string> {
    if (this.zoneId) return this.zoneId;
    const r = await this.api<{ result: { id: string }[] }>(
      `/zones?name=${encodeURIComponent(this.zone)}`,
      `zone ${this.zone}`,
    );
    const id = r.result[0]?.id;
    if (!id) throw new GatehouseError('dns_zone_unknown', `Cloudflare has no zone ${this.zone}`, 502);
    this.zoneId = id;
    return id;
  }

  /** Every record matching the filter, page by page. */
  private async list(filter: Record<string, string>): Promise<CfRecord[]> {
    const zone = await this.id();
    const out: CfRecord[] = [];
    for (let page = 1; ; page++) {
      const q = new URLSearchParams({ ...filter, per_page: '100', page: String(page) });
      const r = await this.api<{ result: CfRecord[]; result_info?: { total_pages?: number } }>(
        `/zones/${zone}/dns_records?${q.toString()}`,
        `records of ${filter.name ?? this.zone}`,
      );
      out.push(...r.result);
      if (page >= (r.result_info?.total_pages ?? 1)) return out;
    }
  }

  checkZone(timeoutMs?: number): Promise<ZoneCheck> {
    return checkZoneWith(() => this.id(), timeoutMs);
  }

  async setTxt(fqdn: string, value: string): Promise<void> {
    const body = { type: 'TXT', name: fqdn, content: value, ttl: 60 };
    await this.api(`/zones/${await this.id()}/dns_records`, `record ${fqdn}`, 'POST', body);
  }

  async removeTxt(fqdn: string, value: string): Promise<void> {
    const zone = await this.id();
    const found = await this.list({ type: 'TXT', name: fqdn });
    for (const rec of found.filter((r) => plain('TXT', r.content) === value))
      await this.api(`/zones/${zone}/dns_records/${rec.id}`, `record ${fqdn}`, 'DELETE');
  }

  waitFor(fqdn: string, value: string, timeoutMs = 120_000): Promise<void> {
    return propagated(this.zone, this.c.propagationServers, fqdn, value, timeoutMs);
  }

  async get(name: string): Promise<RecordSet[]> {
    const found = await this.list({ name });
    return toSets(
      name,
      found.map((r) => ({ type: r.type, value: r.content, ttl: r.ttl })),
    );
  }

  /** Cloudflare's shortest TTL (but for enterprise zones) is 60 s: shorter ones are written as 60. */
  async put(wanted: RecordSet): Promise<void> {
    checkRecordSet(this.zone, wanted);
    const set = { ...wanted, ttl: Math.max(60, wanted.ttl) };
    const zone = await this.id();
    const found = await this.list({ type: set.type, name: set.name });
    const existing = found.map((r) => ({ id: r.id, value: plain(set.type, r.content), ttl: r.ttl }));
    const change = reconcile(existing, set);
    const rec = (content: string) => ({ type: set.type, name: set.name, content, ttl: set.ttl });
    const what = `record ${set.name} ${set.type}`;
    for (const u of change.update)
      await this.api(`/zones/${zone}/dns_records/${u.id}`, what, 'PUT', rec(u.value));
    for (const id of change.remove) await this.api(`/zones/${zone}/dns_records/${id}`, what, 'DELETE');
    for (const v of change.create) await this.api(`/zones/${zone}/dns_records`, what, 'POST', rec(v));
  }

  async remove(name: string, type: RecordType): Promise<void> {
    checkName(this.zone, name);
    const zone = await this.id();
    for (const r of await this.list({ type, name }))
      await this.api(`/zones/${zone}/dns_records/${r.id}`, `record ${name} ${type}`, 'DELETE');
  }
}
