import { isIPv6 } from 'node:net';

/**
 * DNS diagnostics, the pure part (src/dns/doctor.ts asks the servers): what a resolver answers
 * against what it should, and whether a name's CAA records let the configured ACME CA issue.
 */

/** Every value of one type at one name, as the doctor shows it. */
export interface SetValues {
  type: string;
  values: string[];
}

/** ok: answers as it should; missing: answers nothing; wrong: answers something else. */
export type Match = 'ok' | 'missing' | 'wrong';

/** The types that say where a name points (TXT and the rest are not compared). */
const ADDRESS_TYPES = new Set(['A', 'AAAA', 'CNAME']);

function canonical6(a: string): string {
  try {
    return new URL(`http://[${a}]/`).hostname.slice(1, -1);
  } catch {
    return a.toLowerCase();
  }
}

/** A set's values as compared: names lower case without a trailing dot, IPv6 canonical, sorted, unique. */
function normal(s: SetValues): string[] {
  const vs = s.values.map((v) => {
    const x = v.trim().toLowerCase().replace(/\.$/, '');
    return isIPv6(x) ? canonical6(x) : x;
  });
  return [...new Set(vs)].sort();
}

/** Only the A, AAAA and CNAME sets, each normalised, sorted by type; empty sets dropped. */
export function addressSets(sets: readonly SetValues[]): SetValues[] {
  return sets
    .map((s) => ({ type: s.type.toUpperCase(), values: normal(s) }))
    .filter((s) => ADDRESS_TYPES.has(s.type) && s.values.length > 0)
    .sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
}

/**
 * What the answer is worth against what it should be: the same A/AAAA/CNAME values (TTLs and
 * order aside) is ok, no address at all is missing, anything else is wrong.
 */
export function compareSets(expected: readonly SetValues[], actual: readonly SetValues[]): Match {
  const want = addressSets(expected);
  const got = addressSets(actual);
  if (got.length === 0) return want.length === 0 ? 'ok' : 'missing';
  const same =
    want.length === got.length &&
    want.every((w, i) => {
      const g = got[i] as SetValues;
      return g.type === w.type && g.values.join(' ') === w.values.join(' ');
    });
  return same ? 'ok' : 'wrong';
}

/** Addresses as A and AAAA sets (a LAN answer is a list of addresses). */
export function setsOfAddresses(addresses: readonly string[]): SetValues[] {
  const v4 = addresses.filter((a) => !a.includes(':'));
  const v6 = addresses.filter((a) => a.includes(':'));
  return [
    ...(v4.length ? [{ type: 'A', values: v4 }] : []),
    ...(v6.length ? [{ type: 'AAAA', values: v6 }] : []),
  ];
}

/** One CAA record: its flags, tag (issue, issuewild, iodef, …) and value. */
export interface CaaRecord {
  critical: number;
  tag: string;
  value: string;
}

/** The CAA records found at one name (none: []). */
export interface CaaAt {
  name: string;
  records: CaaRecord[];
}

export interface CaaVerdict {
  /** allowed / denied for the configured CA; unknown: no CA to judge for (the issuers say who may). */
  state: 'allowed' | 'denied' | 'unknown';
  /** The name whose CAA set decides (the closest one that has any); null: none has CAA records. */
  at: string | null;
  /** The records there, as a zone file writes them (`0 issue "letsencrypt.org"`). */
  records: string[];
  /** Who may issue for the host: issuer domains; ["*"]: anyone (no CAA, or no issue property). */
  issuers: string[];
  message: string;
}

/** The tags RFC 8659 defines (and RFC 8657's); a critical record with another tag forbids issuance. */
const KNOWN_TAGS = new Set([
  'issue',
  'issuewild',
  'iodef',
  'contactemail',
  'contactphone',
  'issuemail',
  'issuevmc',
]);

/** The issuer domain of an issue/issuewild value (`letsencrypt.org; validationmethods=dns-01`): before the `;`. */
function issuerOf(value: string): string {
  return (value.split(';')[0] ?? '').trim().toLowerCase();
}

/**
 * Whether CAA lets `issuer` (an issuer domain such as `letsencrypt.org`; undefined: none known)
 * issue for a host, from the CAA sets at the host and each parent up to its zone, closest first
 * (RFC 8659: the closest name with any CAA record decides; none at all allows every CA). A wildcard
 * host goes by `issuewild` where the set has one, else by `issue`.
 */
export function caaVerdict(
  chain: readonly CaaAt[],
  issuer: string | undefined,
  wildcard: boolean,
): CaaVerdict {
  const decisive = chain.find((c) => c.records.length > 0);
  if (!decisive)
    return {
      state: issuer ? 'allowed' : 'unknown',
      at: null,
      records: [],
      issuers: ['*'],
      message: 'no CAA records: every CA may issue',
    };
  const records = decisive.records.map((r) => `${r.critical} ${r.tag} "${r.value}"`);
  const base = { at: decisive.name, records };
  const unknownCritical = decisive.records.find(
    (r) => (r.critical & 128) !== 0 && !KNOWN_TAGS.has(r.tag.toLowerCase()),
  );
  if (unknownCritical)
    return {
      ...base,
      state: 'denied',
      issuers: [],
      message: `${decisive.name}: a critical CAA record with the unknown tag ${unknownCritical.tag} forbids every CA`,
    };
  const wild = decisive.records.filter((r) => r.tag.toLowerCase() === 'issuewild');
  const props =
    wildcard && wild.length > 0 ? wild : decisive.records.filter((r) => r.tag.toLowerCase() === 'issue');
  const tag = wildcard && wild.length > 0 ? 'issuewild' : 'issue';
  if (props.length === 0)
    return {
      ...base,
      state: issuer ? 'allowed' : 'unknown',
      issuers: ['*'],
      message: `${decisive.name}: CAA records without an ${tag} property: every CA may issue`,
    };
  const issuers = [...new Set(props.map((r) => issuerOf(r.value)).filter((d) => d !== ''))].sort();
  const who = issuers.length ? issuers.join(', ') : 'no CA';
  if (!issuer)
    return { ...base, state: 'unknown', issuers, message: `${decisive.name}: CAA ${tag} allows ${who}` };
  return issuers.includes(issuer.toLowerCase())
    ? { ...base, state: 'allowed', issuers, message: `${decisive.name}: CAA ${tag} allows ${issuer}` }
    : {
        ...base,
        state: 'denied',
        issuers,
        message: `${decisive.name}: CAA ${tag} allows only ${who}, not ${issuer}`,
      };
}

/** The names whose CAA sets count for a host: itself (a wildcard's base) and each parent down to its zone. */
export function caaNames(host: string, zone: string | undefined): string[] {
  const base = host.replace(/^\*\./, '');
  const labels = base.split('.');
  const names: string[] = [];
  for (let i = 0; i < labels.length; i++) {
    const name = labels.slice(i).join('.');
    names.push(name);
    if (zone ? name === zone : labels.length - i <= 2) break;
  }
  return names;
}

/** Well-known ACME directories and the issuer domain their CA puts in CAA (undefined: not known). */
export function caIssuer(acmeDirectory: string | undefined): string | undefined {
  if (!acmeDirectory) return undefined;
  let host: string;
  try {
    host = new URL(acmeDirectory).hostname.toLowerCase();
  } catch {
    return undefined;
  }
  const known: [RegExp, string][] = [
    [/(^|\.)letsencrypt\.org$/, 'letsencrypt.org'],
    [/(^|\.)zerossl\.com$/, 'sectigo.com'],
    [/(^|\.)pki\.goog$/, 'pki.goog'],
    [/(^|\.)buypass\.(com|no)$/, 'buypass.com'],
    [/(^|\.)ssl\.com$/, 'ssl.com'],
  ];
  return known.find(([re]) => re.test(host))?.[1];
}
