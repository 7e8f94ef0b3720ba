import { GatehouseError } from '../model/errors.js';
import {
  call,
  checkName,
  checkRecordSet,
  plain,
  propagated,
  reconcile,
  toSets,
  type HttpDnsConfig,
} from './http-providers.js';
import {
  checkZoneWith,
  type RecordProvider,
  type RecordSet,
  type RecordType,
  type ZoneCheck,
} from './records.js';
import type { DnsProvider } from './rfc2136.js';

interface HzRecord {
  id: string;
  type: string;
  /** Relative to the zone ("@" at the apex). */
  name: string;
  value: string;
  ttl?: number;
}

/** Hetzner DNS's API, with an API token. Record names are relative to the zone. */
export class HetznerProvider implements DnsProvider, RecordProvider {
  readonly zone: string;
  private zoneId: string | undefined;

  constructor(private readonly c: HttpDnsConfig) {
    this.zone = c.zone;
  }

  private api<T>(path: string, what: string, method = 'GET', body?: unknown): Promise<T> {
    const headers = { 'auth-api-token': this.c.token, 'content-type': 'application/json' };
    const init = { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) };
    return call<T>(`${this.c.apiUrl}${path}`, init, `Hetzner ${what}`);
  }

  private relative(fqdn: string): string {
    return fqdn === this.zone ? '@' : fqdn.slice(0, -(this.zone.length + 1));
  }

  private async id(): Promise<string> {
    if (this.zoneId) return this.zoneId;
    const r = await this.api<{ zones: { id: string }[] }>(
      `/zones?name=${encodeURIComponent(this.zone)}`,
      `zone ${this.zone}`,
    );
    const id = r.zones[0]?.id;
    if (!id) throw new GatehouseError('dns_zone_unknown', `Hetzner DNS has no zone ${this.zone}`, 502);
    this.zoneId = id;
    return id;
  }

  /** The zone's records at `fqdn` (of `type` if given), read page by page. */
  private async list(fqdn: string, type?: string): Promise<HzRecord[]> {
    const zone = await this.id();
    const name = this.relative(fqdn);
    const out: HzRecord[] = [];
    for (let page = 1; ; page++) {
      const q = new URLSearchParams({ zone_id: zone, per_page: '100', page: String(page) });
      const r = await this.api<{ records: HzRecord[]; meta?: { pagination?: { last_page?: number } } }>(
        `/records?${q.toString()}`,
        `records of ${this.zone}`,
      );
      out.push(...r.records.filter((x) => x.name === name && (!type || x.type === type)));
      if (page >= (r.meta?.pagination?.last_page ?? 1)) return out;
    }
  }

  /** A record's body: CNAME targets absolute (with the dot), as Hetzner's zone files take them. */
  private body(zone: string, fqdn: string, type: string, value: string, ttl: number) {
    const v = type === 'CNAME' ? `${value}.` : value;
    return { zone_id: zone, type, name: this.relative(fqdn), value: v, ttl };
  }

  checkZone(timeoutMs?: number): Promise<ZoneCheck> {
    return checkZoneWith(() => this.id(), timeoutMs);
  }

  async setTxt(fqdn: string, value: string): Promise<void> {
    const zone = await this.id();
    await this.api('/records', `record ${fqdn}`, 'POST', this.body(zone, fqdn, 'TXT', value, 60));
  }

  async removeTxt(fqdn: string, value: string): Promise<void> {
    for (const rec of await this.list(fqdn, 'TXT'))
      if (plain('TXT', rec.value) === value) await this.api(`/records/${rec.id}`, `record ${fqdn}`, 'DELETE');
  }

  waitFor(fqdn: string, value: string, timeoutMs = 120_000): Promise<void> {
    return propagated(this.zone, this.c.propagationServers, fqdn, value, timeoutMs);
  }

  async get(name: string): Promise<RecordSet[]> {
    const found = await this.list(name);
    return toSets(
      name,
      found.map((r) => ({ type: r.type, value: r.value, ttl: r.ttl ?? 0 })),
    );
  }

  async put(set: RecordSet): Promise<void> {
    checkRecordSet(this.zone, set);
    const zone = await this.id();
    const found = await this.list(set.name, set.type);
    const existing = found.map((r) => ({ id: r.id, value: plain(set.type, r.value), ttl: r.ttl ?? 0 }));
    const change = reconcile(existing, set);
    const what = `record ${set.name} ${set.type}`;
    const body = (v: string) => this.body(zone, set.name, set.type, v, set.ttl);
    for (const u of change.update) await this.api(`/records/${u.id}`, what, 'PUT', body(u.value));
    for (const id of change.remove) await this.api(`/records/${id}`, what, 'DELETE');
    for (const v of change.create) await this.api('/records', what, 'POST', body(v));
  }

  async remove(name: string, type: RecordType): Promise<void> {
    checkName(this.zone, name);
    for (const r of await this.list(name, type))
      await this.api(`/records/${r.id}`, `record ${name} ${type}`, 'DELETE');
  }
}
