import { isIPv4, isIPv6 } from 'node:net';
import type { Service } from '../model/service.js';

/**
 * Split horizon, the pure part: which names the LAN resolver answers, and with which addresses.
 * Every host a service serves to the LAN (`expose` lan or both) resolves to the LAN edge; a host
 * exposed only publicly is left to the usual (forwarded) answer unless `answerPublic` says the LAN
 * address serves it too (one machine whose edge serves every service).
 */

/** One name the LAN resolver answers. */
export interface LanRecord {
  /** Lower case, no trailing dot; a wildcard host keeps its `*.`. */
  name: string;
  /** `*.apps.example.com`: every name below `apps.example.com` (and that name itself, for Unbound). */
  wildcard: boolean;
  /** The service that serves it. */
  service: string;
  a: string[];
  aaaa: string[];
}

/** A name of a served host the LAN resolver leaves alone, and why. */
export interface LanSkipped {
  name: string;
  service: string;
  reason: string;
}

export interface LanPlan {
  records: LanRecord[];
  skipped: LanSkipped[];
}

/** A node as far as the plan cares (src/edge/nodes.ts NodeView). */
export interface LanNode {
  name: string;
  role: string;
  address: string;
  online: boolean;
}

/** Where the LAN addresses came from (status shows it). */
export type AddressSource = 'setting' | 'lan-nodes' | 'none';

/**
 * The addresses LAN clients are given: the setting when there is one, else the `lan` nodes'
 * addresses as they last connected (the online ones; all of them when none is online, rather than
 * nothing). IPv4-mapped IPv6 addresses (`::ffff:10.0.0.2`) count as the IPv4 address they hold.
 */
export function lanAddresses(
  setting: readonly string[] | undefined,
  nodes: readonly LanNode[],
): { addresses: string[]; source: AddressSource } {
  if (setting && setting.length > 0) return { addresses: unique(setting.map(plain)), source: 'setting' };
  const lan = nodes.filter((n) => n.role === 'lan' && n.address !== '');
  const online = lan.filter((n) => n.online);
  const chosen = (online.length > 0 ? online : lan).map((n) => plain(n.address)).filter(isIp);
  return chosen.length > 0
    ? { addresses: unique(chosen), source: 'lan-nodes' }
    : { addresses: [], source: 'none' };
}

/** What the LAN resolver should answer for these services, given the LAN addresses. */
export function planLan(
  services: readonly Service[],
  addresses: readonly string[],
  answerPublic: boolean,
): LanPlan {
  const a = unique(addresses.filter((x) => isIPv4(x))).sort();
  const aaaa = unique(addresses.filter((x) => isIPv6(x))).sort();
  const records = new Map<string, LanRecord>();
  const skipped: LanSkipped[] = [];
  for (const s of services) {
    const names = servedNames(s);
    const expose = s.expose ?? 'both';
    for (const name of names) {
      if (expose === 'public' && !answerPublic) {
        skipped.push({ name, service: s.name, reason: 'exposed publicly only (lan_dns_public_hosts: skip)' });
        continue;
      }
      if (a.length === 0 && aaaa.length === 0) {
        skipped.push({
          name,
          service: s.name,
          reason: 'no LAN address: set lan_dns_address or enrol a lan node',
        });
        continue;
      }
      // Two services never claim one host; a TLS route may repeat its service's own host.
      if (!records.has(name))
        records.set(name, { name, wildcard: name.startsWith('*.'), service: s.name, a, aaaa });
    }
  }
  return {
    records: [...records.values()].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0)),
    skipped: skipped.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0)),
  };
}

/** The names a service answers for at the edge: its HTTP hosts and its TLS routes' SNI names. */
export function servedNames(s: Service): string[] {
  const names = [...s.hosts, ...s.tcp.flatMap((t) => t.sni ?? [])].map((n) =>
    n.toLowerCase().replace(/\.$/, ''),
  );
  return unique(names);
}

/** The name a wildcard covers (`*.apps.example.com` → `apps.example.com`); others as they are. */
export function wildcardBase(name: string): string {
  return name.startsWith('*.') ? name.slice(2) : name;
}

function plain(address: string): string {
  const m = /^::ffff:([0-9.]+)$/i.exec(address);
  return m?.[1] ?? address;
}

function isIp(x: string): boolean {
  return isIPv4(x) || isIPv6(x);
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

/** A LAN resolver Gatehouse drives (Unbound, dnsmasq): one small interface, two drivers. */
export interface LanDriver {
  readonly kind: 'unbound' | 'dnsmasq';
  /**
   * Makes the resolver answer exactly `records` among the names Gatehouse owns there: names no
   * longer wanted go, missing or changed ones are (re)written, anything else is left alone. Reads
   * what the resolver holds when `full` (at start and each check), so drift (a restarted resolver,
   * an edited file) is corrected; between checks a driver may go by what its last sync left there.
   */
  sync(records: readonly LanRecord[], full: boolean): Promise<LanSyncResult>;
}

export interface LanSyncResult {
  /** Names written or removed (0: the resolver already answered as it should). */
  changed: number;
  /** Records this resolver cannot hold (dnsmasq's hosts files have no wildcards). */
  unsupported: LanSkipped[];
}
