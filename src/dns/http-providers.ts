import { Resolver } from 'node:dns/promises';
import { GatehouseError } from '../model/errors.js';
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

async function call<T>(url: string, init: RequestInit, what: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
  } catch (err) {
    throw new GatehouseError('dns_api_unreachable', `${what}: ${(err as Error).message}`, 502);
  }
  const text = await res.text();
  if (!res.ok)
    throw new GatehouseError('dns_api_refused', `${what}: HTTP ${res.status} ${text.slice(0, 200)}`, 502);
  return (text ? JSON.parse(text) : {}) as T;
}

/** Waits until every server answers the TXT value (the zone's authoritative servers by default). */
async function propagated(c: HttpDnsConfig, fqdn: string, value: string, timeoutMs: number): Promise<void> {
  let servers = c.propagationServers ?? [];
  if (servers.length === 0) {
    const sys = new Resolver();
    const ns = await sys.resolveNs(c.zone).catch(() => [] as string[]);
    servers = (await Promise.all(ns.map((n) => sys.resolve4(n).catch(() => [] as string[])))).flat();
  }
  if (servers.length === 0)
    throw new GatehouseError('dns_propagation', `${c.zone}: no authoritative server found`, 502);
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

/** Cloudflare's API (v4), with an API token allowed to edit the zone's DNS. */
export class CloudflareProvider implements DnsProvider {
  readonly zone: string;
  private zoneId: string | undefined;

  constructor(private readonly c: HttpDnsConfig) {
    this.zone = c.zone;
  }

  private headers() {
    return { authorization: `Bearer ${this.c.token}`, 'content-type': 'application/json' };
  }

  private async id(): Promise<string> {
    if (this.zoneId) return this.zoneId;
    const r = await call<{ result: { id: string }[] }>(
      `${this.c.apiUrl}/zones?name=${encodeURIComponent(this.zone)}`,
      { headers: this.headers() },
      `Cloudflare zone ${this.zone}`,
    );
    const id = r.result[0]?.id;
    if (!id) throw new GatehouseError('dns_zone_unknown', `Cloudflare has no zone ${this.zone}`, 502);
    this.zoneId = id;
    return id;
  }

  async setTxt(fqdn: string, value: string): Promise<void> {
    await call(
      `${this.c.apiUrl}/zones/${await this.id()}/dns_records`,
      {
        method: 'POST',
        headers: this.headers(),
        body: JSON.stringify({ type: 'TXT', name: fqdn, content: value, ttl: 60 }),
      },
      `Cloudflare record ${fqdn}`,
    );
  }

  async removeTxt(fqdn: string, value: string): Promise<void> {
    const zone = await this.id();
    const q = `type=TXT&name=${encodeURIComponent(fqdn)}&content=${encodeURIComponent(value)}`;
    const r = await call<{ result: { id: string }[] }>(
      `${this.c.apiUrl}/zones/${zone}/dns_records?${q}`,
      { headers: this.headers() },
      `Cloudflare record ${fqdn}`,
    );
    for (const rec of r.result) {
      await call(
        `${this.c.apiUrl}/zones/${zone}/dns_records/${rec.id}`,
        { method: 'DELETE', headers: this.headers() },
        `Cloudflare record ${fqdn}`,
      );
    }
  }

  waitFor(fqdn: string, value: string, timeoutMs = 120_000): Promise<void> {
    return propagated(this.c, fqdn, value, timeoutMs);
  }
}

/** Hetzner DNS's API, with an API token. Record names are relative to the zone. */
export class HetznerProvider implements DnsProvider {
  readonly zone: string;
  private zoneId: string | undefined;

  constructor(private readonly c: HttpDnsConfig) {
    this.zone = c.zone;
  }

  private headers() {
    return { 'auth-api-token': this.c.token, 'content-type': 'application/json' };
  }

  private relative(fqdn: string): string {
    return fqdn === this.zone ? '@' : fqdn.slice(0, -(this.zone.length + 1));
  }

  private async id(): Promise<string> {
    if (this.zoneId) return this.zoneId;
    const r = await call<{ zones: { id: string }[] }>(
      `${this.c.apiUrl}/zones?name=${encodeURIComponent(this.zone)}`,
      { headers: this.headers() },
      `Hetzner zone ${this.zone}`,
    );
    const id = r.zones[0]?.id;
    if (!id) throw new GatehouseError('dns_zone_unknown', `Hetzner DNS has no zone ${this.zone}`, 502);
    this.zoneId = id;
    return id;
  }

  async setTxt(fqdn: string, value: string): Promise<void> {
    await call(
      `${this.c.apiUrl}/records`,
      {
        method: 'POST',
        headers: this.headers(),
        body: JSON.stringify({
          zone_id: await this.id(),
          type: 'TXT',
          name: this.relative(fqdn),
          value,
          ttl: 60,
        }),
      },
      `Hetzner record ${fqdn}`,
    );
  }

  async removeTxt(fqdn: string, value: string): Promise<void> {
    const zone = await this.id();
    const r = await call<{ records: { id: string; type: string; name: string; value: string }[] }>(
      `${this.c.apiUrl}/records?zone_id=${encodeURIComponent(zone)}`,
      { headers: this.headers() },
      `Hetzner records of ${this.zone}`,
    );
    const name = this.relative(fqdn);
    for (const rec of r.records.filter((x) => x.type === 'TXT' && x.name === name && x.value === value)) {
      await call(
        `${this.c.apiUrl}/records/${rec.id}`,
        { method: 'DELETE', headers: this.headers() },
        `Hetzner record ${fqdn}`,
      );
    }
  }

  waitFor(fqdn: string, value: string, timeoutMs = 120_000): Promise<void> {
    return propagated(this.c, fqdn, value, timeoutMs);
  }
}
