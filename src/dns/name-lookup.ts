import { lookup as systemLookup, Resolver } from 'node:dns/promises';
import type { ResolverSetting } from '../model/values.js';

/**
 * How an upstream's DNS name is looked up (setting `upstream_resolver`): the system's resolver
 * (getaddrinfo: /etc/hosts, then the machine's DNS servers; it gives no TTL) or one DNS server
 * asked directly (its answers carry their TTL). See docs/upstream-names.md.
 */

/**
 * One lookup's outcome. `absent`: the name does not exist, or has no address (NXDOMAIN, NODATA):
 * an authoritative "no", acted on at once. `failed`: no answer (timeout, SERVFAIL, refused): the
 * last answer may still be used for a bounded time.
 */
export type NameAnswer =
  | { kind: 'found'; addresses: string[]; ttlMs?: number }
  | { kind: 'absent'; error: string }
  | { kind: 'failed'; error: string };

export type NameLookup = (name: string) => Promise<NameAnswer>;

export { parseResolverSetting, type ResolverSetting } from '../model/values.js';

/** Error codes from node:dns that mean the name has no address: acted on at once. */
const ABSENT = new Set(['ENOTFOUND', 'ENODATA', 'NOTFOUND', 'NODATA']);

function codeOf(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : 'EUNKNOWN';
}

/** The lookup for a setting. `timeoutMs`: one try at the server, per address family. */
export function nameLookup(setting: ResolverSetting, timeoutMs = 2000): NameLookup {
  if (setting.kind === 'system') return lookupSystem;
  const resolver = new Resolver({ timeout: timeoutMs, tries: 2 });
  resolver.setServers([setting.server]);
  return (name) => lookupAt(resolver, setting.server, name);
}

async function lookupSystem(name: string): Promise<NameAnswer> {
  try {
    const all = await systemLookup(name, { all: true, verbatim: true });
    const addresses = [...new Set(all.map((a) => a.address))];
    return addresses.length > 0
      ? { kind: 'found', addresses }
      : { kind: 'absent', error: `${name}: no address (system resolver)` };
  } catch (err) {
    const code = codeOf(err);
    // getaddrinfo: EAI_NONAME (ENOTFOUND) is "no such name"; EAI_AGAIN (a timeout, SERVFAIL) is not.
    return ABSENT.has(code)
      ? { kind: 'absent', error: `${name}: no such name (system resolver: ${code})` }
      : { kind: 'failed', error: `${name}: the system resolver did not answer (${code})` };
  }
}

type Family = { addresses: { address: string; ttl: number }[] } | { code: string };

async function family(resolver: Resolver, name: string, v: 4 | 6): Promise<Family> {
  try {
    const addresses =
      v === 4 ? await resolver.resolve4(name, { ttl: true }) : await resolver.resolve6(name, { ttl: true });
    return { addresses };
  } catch (err) {
    return { code: codeOf(err) };
  }
}

/** A and AAAA at the server: the addresses of both, with the shortest TTL among them. */
async function lookupAt(resolver: Resolver, server: string, name: string): Promise<NameAnswer> {
  const [a, aaaa] = await Promise.all([family(resolver, name, 4), family(resolver, name, 6)]);
  const found = [a, aaaa].flatMap((f) => ('addresses' in f ? f.addresses : []));
  if (found.length > 0) {
    const addresses = [...new Set(found.map((f) => f.address))];
    return { kind: 'found', addresses, ttlMs: Math.min(...found.map((f) => f.ttl)) * 1000 };
  }
  const codes = [a, aaaa].map((f) => ('code' in f ? f.code : 'ENODATA'));
  // Both families answered "none" (NXDOMAIN, or a name without addresses): the name is gone.
  if (codes.every((c) => ABSENT.has(c)))
    return { kind: 'absent', error: `${name}: no such name at ${server} (${codes[0]})` };
  const bad = codes.find((c) => !ABSENT.has(c)) ?? 'EUNKNOWN';
  return { kind: 'failed', error: `${name}: ${server} did not answer (${bad})` };
}
