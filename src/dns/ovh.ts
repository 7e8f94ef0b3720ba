import { createHash } from 'node:crypto';
import { GatehouseError } from '../model/errors.js';
import { call, checkName, checkRecordSet, plain, propagated, reconcile, toSets } from './http-providers.js';
import {
  checkZoneWith,
  type RecordProvider,
  type RecordSet,
  type RecordType,
  type ZoneCheck,
} from './records.js';
import type { DnsProvider } from './rfc2136.js';

export interface OvhConfig {
  zone: string;
  /** The API's base, e.g. https://eu.api.ovh.com/1.0 (ca.api.ovh.com, api.us.ovhcloud.com, …). */
  endpoint: string;
  applicationKey: string;
  applicationSecret: string;
  consumerKey: string;
  propagationServers?: string[];
}

/**
 * OVH's request signature: "$1$" and the SHA-1 (hex) of the application secret, consumer key,
 * method, full URL, body and timestamp joined by "+".
 */
export function ovhSignature(
  applicationSecret: string,
  consumerKey: string,
  method: string,
  url: string,
  body: string,
  timestamp: number,
): string {
  const joined = [applicationSecret, consumerKey, method, url, body, String(timestamp)].join('+');
  return `$1$${createHash('sha1').update(joined).digest('hex')}`;
}

/** OVH's clock minus ours (seconds), per API endpoint, and when it was asked. */
const skews = new Map<string, { skew: number; at: number }>();

interface OvhRecord {
  id: number;
  fieldType: string;
  subDomain: string;
  target: string;
  ttl: number;
}

/**
 * OVH's API v1 for a zone it hosts: records under /domain/zone/<zone>/record, applied to the
 * zone's servers by POST /domain/zone/<zone>/refresh (changes stay staged until then).
 */
export class OvhProvider implements DnsProvider, RecordProvider {
  readonly zone: string;
  constructor(private readonly c: OvhConfig) {
    this.zone = c.zone;
  }

  /** OVH's time (requests carry it), from its clock's offset to ours, asked hourly per endpoint. */
  private async now(): Promise<number> {
    const local = () => Math.floor(Date.now() / 1000);
    let s = skews.get(this.c.endpoint);
    if (!s || Date.now() - s.at > 3_600_000) {
      const t = await call<unknown>(`${this.c.endpoint}/auth/time`, {}, 'OVH /auth/time');
      if (typeof t !== 'number')
        throw new GatehouseError('dns_api_refused', 'OVH /auth/time: not a timestamp', 502);
      s = { skew: t - local(), at: Date.now() };
      skews.set(this.c.endpoint, s);
    }
    return local() + s.skew;
  }

  /** A signed call to a path under the zone. */
  private async api<T>(path: string, what: string, method = 'GET', data?: unknown): Promise<T> {
    const url = `${this.c.endpoint}/domain/zone/${encodeURIComponent(this.zone)}${path}`;
    const body = data === undefined ? '' : JSON.stringify(data);
    const ts = await this.now();
    const headers = {
      'content-type': 'application/json',
      'x-ovh-application': this.c.applicationKey,
      'x-ovh-consumer': this.c.consumerKey,
      'x-ovh-timestamp': String(ts),
      'x-ovh-signature': ovhSignature(this.c.applicationSecret, this.c.consumerKey, method, url, body, ts),
    };
    return call<T>(url, { method, headers, ...(body ? { body } : {}) }, `OVH ${what}`);
  }

  private sub(fqdn: string): string {
    return fqdn === this.zone ? '' : fqdn.slice(0, -(this.zone.length + 1));
  }

  /** The records at `fqdn` (of `type` if given): ids by filter, then each record. */
  private async list(fqdn: string, type?: string): Promise<OvhRecord[]> {
    const sub = this.sub(fqdn);
    const q = new URLSearchParams({ ...(type ? { fieldType: type } : {}), subDomain: sub });
    const ids = await this.api<number[]>(`/record?${q.toString()}`, `records of ${fqdn}`);
    const out: OvhRecord[] = [];
    for (const id of ids) out.push(await this.api<OvhRecord>(`/record/${id}`, `record ${id}`));
    return out.filter((r) => r.subDomain === sub && (!type || r.fieldType === type));
  }

  private refresh(): Promise<unknown> {
    return this.api('/refresh', `refresh of ${this.zone}`, 'POST');
  }

  /** A CNAME target absolute (with the dot), or OVH reads it relative to the zone. */
  private target(type: string, value: string): string {
    return type === 'CNAME' ? `${value}.` : value;
  }

  checkZone(timeoutMs?: number): Promise<ZoneCheck> {
    return checkZoneWith(() => this.list(this.zone, 'SOA'), timeoutMs);
  }

  async setTxt(fqdn: string, value: string): Promise<void> {
    const body = { fieldType: 'TXT', subDomain: this.sub(fqdn), target: value, ttl: 60 };
    await this.api('/record', `record ${fqdn}`, 'POST', body);
    await this.refresh();
  }

  async removeTxt(fqdn: string, value: string): Promise<void> {
    const found = (await this.list(fqdn, 'TXT')).filter((r) => plain('TXT', r.target) === value);
    for (const r of found) await this.api(`/record/${r.id}`, `record ${fqdn}`, 'DELETE');
    if (found.length) await this.refresh();
  }

  waitFor(fqdn: string, value: string, timeoutMs = 120_000): Promise<void> {
    return propagated(this.zone, this.c.propagationServers, fqdn, value, timeoutMs);
  }

  async get(name: string): Promise<RecordSet[]> {
    const found = await this.list(name);
    return toSets(
      name,
      found.map((r) => ({ type: r.fieldType, value: r.target, ttl: r.ttl })),
    );
  }

  async put(set: RecordSet): Promise<void> {
    checkRecordSet(this.zone, set);
    const found = await this.list(set.name, set.type);
    const existing = found.map((r) => ({ id: String(r.id), value: plain(set.type, r.target), ttl: r.ttl }));
    const change = reconcile(existing, set);
    const what = `record ${set.name} ${set.type}`;
    const sub = this.sub(set.name);
    for (const u of change.update) {
      const body = { subDomain: sub, target: this.target(set.type, u.value), ttl: set.ttl };
      await this.api(`/record/${u.id}`, what, 'PUT', body);
    }
    for (const id of change.remove) await this.api(`/record/${id}`, what, 'DELETE');
    for (const v of change.create) {
      const body = { fieldType: set.type, subDomain: sub, target: this.target(set.type, v), ttl: set.ttl };
      await this.api('/record', what, 'POST', body);
    }
    if (change.update.length + change.remove.length + change.create.length > 0) await this.refresh();
  }

  async remove(name: string, type: RecordType): Promise<void> {
    checkName(this.zone, name);
    const found = await this.list(name, type);
    for (const r of found) await this.api(`/record/${r.id}`, `record ${name} ${type}`, 'DELETE');
    if (found.length) await this.refresh();
  }
}
