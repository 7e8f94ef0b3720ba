import { isIPv4, isIPv6 } from 'node:net';
import type { RecordSet, RecordType } from './records.js';

/**
 * External records, the pure part: which record sets each host served by public edges should have
 * at its zone's provider, and what to write to get there from what the provider holds. Ownership is
 * marked as external-dns marks it: a TXT set beside the host says which installation made it, and a
 * set without that mark is never changed or removed.
 */

/** Where the records point: addresses (A and AAAA sets) or one host name (a CNAME). */
export type RecordTarget =
  { kind: 'addresses'; v4: string[]; v6: string[] } | { kind: 'cname'; host: string };

/** An edge node as the control plane knows it (edge/nodes.ts). */
export interface EdgeAddress {
  role: string;
  /** The address its requests come from ('' before the first). */
  address: string;
  online: boolean;
}

/** What the planner needs of a service. */
export interface ServiceHosts {
  name: string;
  hosts: string[];
  expose?: 'public' | 'lan' | 'both' | undefined;
}

/** The record sets one host should have. */
export interface DesiredHost {
  host: string;
  zone: string;
  /** The services that serve it (one, unless they split it by path). */
  services: string[];
  /** A/AAAA or CNAME, sorted by type; empty with `problem`. */
  sets: RecordSet[];
  /** Why nothing can be written for it (no target, a CNAME at a zone apex). */
  problem?: string;
}

/** Who marked a host as theirs: this installation, another one (its id), or nobody. */
export type Ownership = { state: 'ours' } | { state: 'other'; owner: string } | { state: 'none' };

/** What the provider holds for a host. */
export interface ActualHost {
  /** The A, AAAA and CNAME sets answered at the host. */
  sets: RecordSet[];
  owner: Ownership;
  /** The sets are a wildcard's answer (the same at a name that has none): not records of the host. */
  synthesized?: boolean;
  /**
   * This installation began creating the host's records (it keeps a list): its mark and sets are
   * written at once, so a create cut short may have left sets without the mark.
   */
  tracked?: boolean;
}

export type HostStep = { op: 'put'; set: RecordSet } | { op: 'remove'; name: string; type: RecordType };

export type HostPlan =
  | { state: 'ok' }
  | { state: 'conflict'; reason: string }
  | { state: 'write'; action: 'create' | 'change' | 'remove'; steps: HostStep[] };

const ADDRESS_TYPES: readonly RecordType[] = ['A', 'AAAA', 'CNAME'];

/** The TXT set that marks a host as Gatehouse's: `_gatehouse.<host>`, a wildcard's `_gatehouse-wildcard.<rest>`. */
export function ownerName(host: string): string {
  return host.startsWith('*.') ? `_gatehouse-wildcard.${host.slice(2)}` : `_gatehouse.${host}`;
}

export function ownerValue(id: string): string {
  return `heritage=gatehouse,owner=${id}`;
}

/** Reads the ownership TXT values at a host's owner name. */
export function ownership(txt: string[], id: string): Ownership {
  let other: string | undefined;
  for (const v of txt) {
    const fields = new Map(
      v.split(',').map((kv) => {
        const i = kv.indexOf('=');
        return [kv.slice(0, i).trim(), kv.slice(i + 1).trim()] as const;
      }),
    );
    if (fields.get('heritage') !== 'gatehouse') continue;
    const owner = fields.get('owner') ?? '';
    if (owner === id) return { state: 'ours' };
    other ??= owner;
  }
  return other !== undefined ? { state: 'other', owner: other } : { state: 'none' };
}

/** IPv4-mapped IPv6 (`::ffff:192.0.2.1`, as Node reports IPv4 peers on a dual-stack socket) as IPv4. */
function bareAddress(a: string): string {
  const m = /^::ffff:([0-9.]+)$/i.exec(a);
  return m ? (m[1] as string) : a;
}

/** An IPv6 address in its canonical (compressed, lower case) form. */
function canonical6(a: string): string {
  try {
    return new URL(`http://[${a}]/`).hostname.slice(1, -1);
  } catch {
    return a.toLowerCase();
  }
}

function sortedUnique(xs: string[]): string[] {
  return [...new Set(xs)].sort();
}

/**
 * The target: `dns_records_target` when set (addresses, or one host name for a CNAME), else the
 * addresses of the public edges (the online ones; all that have an address when none is online, so
 * records do not vanish while the edges reconnect). Undefined: nothing to point at.
 */
export function recordTarget(
  setting: readonly string[],
  edges: readonly EdgeAddress[],
): RecordTarget | undefined {
  let addresses: string[];
  if (setting.length > 0) {
    const first = setting[0] as string;
    if (setting.length === 1 && !isIPv4(first) && !isIPv6(first))
      return { kind: 'cname', host: first.toLowerCase().replace(/\.$/, '') };
    addresses = [...setting];
  } else {
    const known = edges.filter((e) => e.role === 'public' && e.address !== '');
    const online = known.filter((e) => e.online);
    addresses = (online.length > 0 ? online : known).map((e) => bareAddress(e.address));
  }
  const v4 = sortedUnique(addresses.filter((a) => isIPv4(a)));
  const v6 = sortedUnique(addresses.filter((a) => isIPv6(a)).map(canonical6));
  return v4.length + v6.length > 0 ? { kind: 'addresses', v4, v6 } : undefined;
}

/** The zone (of those given) that holds a host: the longest one. */
export function zoneOf(host: string, zones: readonly string[]): string | undefined {
  const bare = host.replace(/^\*\./, '');
  return zones.filter((z) => bare === z || bare.endsWith(`.${z}`)).sort((a, b) => b.length - a.length)[0];
}

/** The sets a target gives one host. */
export function targetSets(host: string, target: RecordTarget, ttl: number): RecordSet[] {
  if (target.kind === 'cname') return [{ name: host, type: 'CNAME', ttl, values: [target.host] }];
  const sets: RecordSet[] = [];
  if (target.v4.length) sets.push({ name: host, type: 'A', ttl, values: target.v4 });
  if (target.v6.length) sets.push({ name: host, type: 'AAAA', ttl, values: target.v6 });
  return sets;
}

/**
 * Every host public edges serve (services exposed `public` or `both`) that one of `zones` holds,
 * with the sets it should have. Without a target, each is listed with the problem instead.
 */
export function desiredRecords(
  services: readonly ServiceHosts[],
  target: RecordTarget | undefined,
  ttl: number,
  zones: readonly string[],
): Map<string, DesiredHost> {
  const out = new Map<string, DesiredHost>();
  for (const s of services) {
    if (s.expose === 'lan') continue;
    for (const raw of s.hosts) {
      const host = raw.toLowerCase();
      const zone = zoneOf(host, zones);
      if (!zone) continue;
      const seen = out.get(host);
      if (seen) {
        if (!seen.services.includes(s.name)) seen.services.push(s.name);
        continue;
      }
      const d: DesiredHost = { host, zone, services: [s.name], sets: [] };
      if (!target) d.problem = 'no target: set dns_records_target, or enrol a public edge';
      else if (target.kind === 'cname' && host === zone)
        d.problem = `a CNAME cannot be at the zone apex ${zone}: set addresses in dns_records_target`;
      else if (target.kind === 'cname' && target.host === host)
        d.problem = `${host} cannot be a CNAME to itself`;
      else d.sets = targetSets(host, target, ttl);
      out.set(host, d);
    }
  }
  for (const d of out.values()) d.services.sort();
  return out;
}

/** A set's values as compared: addresses canonical, names without a trailing dot, sorted. */
function normalValues(s: RecordSet): string[] {
  const v =
    s.type === 'AAAA'
      ? s.values.map(canonical6)
      : s.type === 'CNAME'
        ? s.values.map((x) => x.toLowerCase().replace(/\.$/, ''))
        : s.values;
  return sortedUnique(v);
}

/**
 * Whether two sets hold the same: values always, the TTL for addresses only (not every provider
 * reports a CNAME's own TTL).
 */
export function sameSet(a: RecordSet, b: RecordSet): boolean {
  if (a.type !== b.type) return false;
  if ((a.type === 'A' || a.type === 'AAAA') && a.ttl !== b.ttl) return false;
  const x = normalValues(a);
  const y = normalValues(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** Whether two lists of sets hold the same (in any order). */
export function sameSets(a: readonly RecordSet[], b: readonly RecordSet[]): boolean {
  return a.length === b.length && a.every((s) => b.some((t) => sameSet(s, t)));
}

function describe(sets: readonly RecordSet[]): string {
  return sets.map((s) => `${s.type} ${s.values.join(',')}`).join('; ');
}

/**
 * What to write for one host, from what it should have (undefined: nothing, its service is gone)
 * and what the provider holds. Marked ours: brought to the desired sets (sets of other types
 * removed first, so a CNAME can replace addresses); removed whole (the mark last) when undesired.
 * Unmarked: created (mark and sets) where the host has no sets, or where a create of its own was
 * cut short; left alone, as a conflict, where it has some. Marked by another installation: a conflict.
 */
export function planHost(
  host: string,
  desired: DesiredHost | undefined,
  actual: ActualHost,
  id: string,
  ttl: number,
): HostPlan {
  const sets = actual.sets.filter((s) => ADDRESS_TYPES.includes(s.type));
  const mark: RecordSet = { name: ownerName(host), type: 'TXT', ttl, values: [ownerValue(id)] };
  if (actual.owner.state === 'other')
    return desired
      ? { state: 'conflict', reason: `marked as another Gatehouse's (owner=${actual.owner.owner})` }
      : { state: 'ok' };
  if (actual.owner.state === 'none') {
    if (!desired) return { state: 'ok' };
    if (sets.length > 0 && !actual.synthesized && !actual.tracked)
      return { state: 'conflict', reason: `${describe(sets)} exists, not created by Gatehouse` };
    return {
      state: 'write',
      action: 'create',
      steps: [{ op: 'put', set: mark }, ...desired.sets.map((set) => ({ op: 'put' as const, set }))],
    };
  }
  if (!desired) {
    const steps: HostStep[] = sets.map((s) => ({ op: 'remove', name: host, type: s.type }));
    steps.push({ op: 'remove', name: mark.name, type: 'TXT' });
    return { state: 'write', action: 'remove', steps };
  }
  const steps: HostStep[] = [];
  for (const s of sets)
    if (!desired.sets.some((d) => d.type === s.type)) steps.push({ op: 'remove', name: host, type: s.type });
  for (const d of desired.sets) {
    const have = sets.find((s) => s.type === d.type);
    if (!have || !sameSet(have, d)) steps.push({ op: 'put', set: d });
  }
  return steps.length === 0 ? { state: 'ok' } : { state: 'write', action: 'change', steps };
}
