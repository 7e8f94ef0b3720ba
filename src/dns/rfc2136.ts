import { spawn } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { isIPv4, isIPv6 } from 'node:net';
import { GatehouseError } from '../model/errors.js';
import {
  checkSet,
  inZone,
  querySets,
  ZONE_CHECK_MS,
  type RecordProvider,
  type ZoneCheck,
  type RecordSet,
  type RecordType,
} from './records.js';

/** What ACME DNS-01 needs of a DNS provider. */
export interface DnsProvider {
  readonly zone: string;
  setTxt(fqdn: string, value: string): Promise<void>;
  removeTxt(fqdn: string, value: string): Promise<void>;
  /** Resolves once the zone's authoritative server answers the record. */
  waitFor(fqdn: string, value: string, timeoutMs?: number): Promise<void>;
  /** Whether the provider holds the zone (absent for a hook that cannot tell). */
  checkZone?(timeoutMs?: number): Promise<ZoneCheck>;
}

export interface Rfc2136Config {
  zone: string;
  /** IP:port (IPv6 in brackets). */
  server: string;
  tsigName: string;
  tsigAlgorithm: string;
  tsigSecret: string;
}

/**
 * RFC 2136 dynamic updates signed with TSIG, sent with BIND's `nsupdate` (Debian's bind9-dnsutils):
 * a well-kept implementation of the protocol and its signing, fed a script on standard input (the
 * key never appears on a command line).
 */
export class Rfc2136Provider implements DnsProvider, RecordProvider {
  readonly zone: string;

  constructor(private readonly c: Rfc2136Config) {
    this.zone = c.zone;
  }

  setTxt(fqdn: string, value: string): Promise<void> {
    return this.update('add', fqdn, value);
  }

  removeTxt(fqdn: string, value: string): Promise<void> {
    return this.update('delete', fqdn, value);
  }

  async waitFor(fqdn: string, value: string, timeoutMs = 60_000): Promise<void> {
    const resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([this.c.server]);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const records = await resolver.resolveTxt(fqdn).catch(() => [] as string[][]);
      if (records.some((r) => r.join('') === value)) return;
      if (Date.now() > deadline) {
        throw new GatehouseError(
          'dns_propagation',
          `${fqdn}: the TXT record did not appear on ${this.c.server}`,
          504,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  get(name: string): Promise<RecordSet[]> {
    return querySets(this.c.server, name);
  }

  /** The server answers the zone's SOA: it serves the zone (NXDOMAIN, no SOA there, REFUSED: not). */
  async checkZone(timeoutMs = ZONE_CHECK_MS): Promise<ZoneCheck> {
    const r = new Resolver({ timeout: timeoutMs, tries: 1 });
    r.setServers([this.c.server]);
    try {
      await r.resolveSoa(this.zone);
      return { state: 'held' };
    } catch (err) {
      const code = (err as { code?: string }).code ?? String(err);
      const absent = ['ENOTFOUND', 'ENODATA', 'EREFUSED', 'ENOTIMP', 'ESERVFAIL'].includes(code);
      return absent
        ? { state: 'absent', message: `${this.c.server} does not serve the zone ${this.zone} (${code})` }
        : { state: 'unreachable', message: `${this.c.server} did not answer (${code})` };
    }
  }

  /** One update message: the old set deleted and the new one added, applied by the server at once. */
  async put(set: RecordSet): Promise<void> {
    checkSet(this.zone, set);
    const lines = set.values.map((v) => `update add ${set.name}. ${set.ttl} ${set.type} ${rdata(set, v)}`);
    await this.nsupdate([`update delete ${set.name}. ${set.type}`, ...lines]);
  }

  remove(name: string, type: RecordType): Promise<void> {
    if (!inZone(name, this.zone))
      return Promise.reject(
        new GatehouseError('dns_outside_zone', `${name} is not inside the zone ${this.zone}`, 400),
      );
    if (!SAFE_NAME.test(name)) return Promise.reject(unsafe(name));
    return this.nsupdate([`update delete ${name}. ${type}`]);
  }

  private update(op: 'add' | 'delete', fqdn: string, value: string): Promise<void> {
    // Only what ACME needs goes into the script: a host name and a base64url digest.
    if (!SAFE_NAME.test(fqdn) || !/^[A-Za-z0-9_-]{1,128}$/.test(value)) {
      return Promise.reject(new Error(`refusing an unsafe update for ${fqdn}`));
    }
    const line =
      op === 'add' ? `update add ${fqdn}. 60 TXT "${value}"` : `update delete ${fqdn}. TXT "${value}"`;
    return this.nsupdate([line]);
  }

  /** Sends the update lines as one message, signed with the TSIG key (fed on stdin, never argv). */
  private nsupdate(updates: string[]): Promise<void> {
    const m = /^\[?([^\]]+)\]?:([0-9]+)$/.exec(this.c.server);
    if (!m) return Promise.reject(new Error(`bad server ${this.c.server}`));
    const script = [
      `key ${this.c.tsigAlgorithm}:${this.c.tsigName} ${this.c.tsigSecret}`,
      `server ${m[1] as string} ${m[2] as string}`,
      `zone ${this.c.zone}.`,
      ...updates,
      'send',
      '',
    ].join('\n');
    return new Promise((resolve, reject) => {
      const p = spawn('nsupdate', ['-t', '10'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.on('error', (e) =>
        reject(
          new GatehouseError('dns_update_failed', `nsupdate: ${e.message} (install bind9-dnsutils)`, 502),
        ),
      );
      p.on('close', (code) =>
        code === 0
          ? resolve()
          : reject(
              new GatehouseError('dns_update_failed', `DNS update refused: ${err.trim().slice(0, 300)}`, 502),
            ),
      );
      // A child that exits before reading its input (a bad binary, killed) gives EPIPE here: its exit
      // status reports the failure.
      p.stdin.on('error', () => undefined);
      p.stdin.end(script);
    });
  }
}

const SAFE_NAME = /^[a-z0-9_*][a-z0-9._-]{0,252}$/;

function unsafe(what: string): GatehouseError {
  return new GatehouseError('dns_bad_record', `refusing an unsafe record: ${what.slice(0, 80)}`, 400);
}

/** A value as nsupdate's record data, checked against its type (nothing else reaches the script). */
function rdata(set: RecordSet, v: string): string {
  if (!SAFE_NAME.test(set.name)) throw unsafe(set.name);
  const ok =
    set.type === 'A'
      ? isIPv4(v)
      : set.type === 'AAAA'
        ? isIPv6(v)
        : set.type === 'CNAME'
          ? SAFE_NAME.test(v)
          : /^[\x20-\x7e]{0,255}$/.test(v) && !/["\\]/.test(v);
  if (!ok) throw unsafe(`${set.name} ${set.type} ${v}`);
  if (set.type === 'CNAME') return `${v}.`;
  return set.type === 'TXT' ? `"${v}"` : v;
}
