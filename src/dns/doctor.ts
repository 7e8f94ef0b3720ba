import type { DnsDoctorHost, DnsDoctorProvider, DnsDoctorReport } from '../api/views/dns-doctor.js';
import type { DnsProviderView } from '../model/dns.js';
import { lanDnsServer } from '../model/lan-dns-settings.js';
import type { Service } from '../model/service.js';
import type { Settings } from '../model/settings.js';
import { durationMs } from '../model/values.js';
import {
  addressSets,
  caaNames,
  caaVerdict,
  caIssuer,
  compareSets,
  setsOfAddresses,
  type CaaAt,
  type SetValues,
} from './doctor-compare.js';
import { askAddresses, askCaa, askIps, askSoa, limited, mapLimit, type Answer } from './doctor-query.js';
import { lanAddresses, planLan, servedNames, wildcardBase, type LanNode, type LanPlan } from './lan-plan.js';
import type { DnsProvider } from './rfc2136.js';
import type { RecordProvider } from './records.js';
import {
  desiredRecords,
  recordTarget,
  targetSets,
  zoneOf,
  type DesiredHost,
  type EdgeAddress,
  type RecordTarget,
} from './record-plan.js';

export type { DnsDoctorHost, DnsDoctorProvider, DnsDoctorReport } from '../api/views/dns-doctor.js';

/**
 * DNS diagnostics (`gatehouse doctor dns`, GET /api/v1/dns/doctor): for each host Gatehouse serves,
 * what the public and the LAN resolvers answer against what they should, whether CAA lets the ACME
 * CA issue for it, and whether each DNS provider answers. Every query is time-limited and a few run
 * at a time; nothing here throws for a server that fails: each failure is a row saying why.
 */

export interface DnsDoctorDeps {
  settings: Settings;
  /** The registry's services. */
  services: () => Service[];
  /** The login portal's host, if there is one (every edge serves it). */
  portal?: string | undefined;
  providers: {
    list(): Promise<DnsProviderView[]>;
    byName(name: string): Promise<DnsProvider | undefined>;
  };
  /** The edge nodes: their role, last address, and whether they are online. */
  nodes: () => Promise<LanNode[]>;
  /** This node at its public address, when dynamic DNS watches it (external records point there too). */
  publicAddress?: () => Promise<EdgeAddress[]>;
}

/** Hosts checked at a time, and providers. */
const HOSTS_AT_ONCE = 8;
const PROVIDERS_AT_ONCE = 4;
const SYSTEM = 'system resolver';

interface HostEntry {
  host: string;
  services: string[];
  /** Some public edge serves it. */
  isPublic: boolean;
}

/** Every host the services (and the portal) are served at, with who serves it. */
function servedHosts(services: readonly Service[], portal: string | undefined): HostEntry[] {
  const out = new Map<string, HostEntry>();
  const add = (host: string, service: string, isPublic: boolean) => {
    const e = out.get(host) ?? { host, services: [], isPublic: false };
    if (!e.services.includes(service)) e.services.push(service);
    e.isPublic ||= isPublic;
    out.set(host, e);
  };
  for (const s of services) for (const h of servedNames(s)) add(h, s.name, (s.expose ?? 'both') !== 'lan');
  if (portal) add(portal.toLowerCase(), 'login portal', true);
  return [...out.values()].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
}

const show = (sets: readonly SetValues[]): string =>
  sets.map((s) => `${s.type} ${s.values.join(',')}`).join('; ') || 'nothing';

/** Where a zone's answers are asked: the setting, an RFC 2136 server, an exec hook's check server, else the system's. */
function serverFor(settings: Settings, provider: DnsProviderView | undefined): string | undefined {
  if (settings.dns_doctor_resolver) return settings.dns_doctor_resolver;
  const c = provider?.config ?? {};
  if (provider?.type === 'rfc2136' && typeof c.server === 'string') return c.server;
  if (provider?.type === 'exec' && typeof c.check_server === 'string') return c.check_server;
  return undefined;
}

/** What one run shares: the plans, and the CAA answers (parents are asked once for all their hosts). */
interface Run {
  settings: Settings;
  ms: number;
  providers: DnsProviderView[];
  zones: string[];
  desired: Map<string, DesiredHost> | undefined;
  target: RecordTarget | undefined;
  lan: LanPlan | undefined;
  issuer: string | undefined;
  caa: Map<string, Promise<Answer<CaaAt>>>;
}

export async function runDnsDoctor(deps: DnsDoctorDeps): Promise<DnsDoctorReport> {
  const { settings } = deps;
  const ms = durationMs(settings.dns_doctor_timeout);
  const [providers, nodes, watched] = await Promise.all([
    deps.providers.list(),
    deps.nodes(),
    deps.publicAddress?.() ?? [],
  ]);
  const services = deps.services();
  const zones = providers.map((p) => p.zone);
  const target = recordTarget(settings.dns_records_target, [...nodes, ...watched]);
  const portal = deps.portal ? [{ name: 'login portal', hosts: [deps.portal] }] : [];
  const run: Run = {
    settings,
    ms,
    providers,
    zones,
    target,
    desired:
      settings.dns_records === 'on'
        ? desiredRecords([...services, ...portal], target, settings.dns_records_ttl, zones)
        : undefined,
    lan:
      settings.lan_dns === 'off'
        ? undefined
        : planLan(
            services,
            lanAddresses(settings.lan_dns_address, nodes).addresses,
            settings.lan_dns_public_hosts === 'answer',
          ),
    issuer: settings.dns_doctor_caa_issuer ?? caIssuer(settings.acme_directory),
    caa: new Map(),
  };
  const [hosts, checked] = await Promise.all([
    mapLimit(servedHosts(services, deps.portal), HOSTS_AT_ONCE, (h) => checkHost(run, h)),
    mapLimit(providers, PROVIDERS_AT_ONCE, (p) => checkProvider(deps, p, ms)),
  ]);
  const count = (s: DnsDoctorHost['state']) => hosts.filter((h) => h.state === s).length;
  const failing = checked.filter((p) => p.state === 'unreachable' || p.state === 'timeout').length;
  return {
    checked_at: new Date().toISOString(),
    ok: count('problem') === 0 && failing === 0,
    timeout_ms: ms,
    caa_issuer: run.issuer ?? null,
    public_resolver: settings.dns_doctor_resolver ?? null,
    external_records: settings.dns_records === 'on',
    lan_dns: settings.lan_dns,
    summary: {
      hosts: hosts.length,
      ok: count('ok'),
      warning: count('warning'),
      problem: count('problem'),
      providers_failing: failing,
    },
    hosts,
    providers: checked,
  };
}

async function checkHost(run: Run, h: HostEntry): Promise<DnsDoctorHost> {
  const zone = zoneOf(h.host, run.zones);
  const provider = zone ? run.providers.find((p) => p.zone === zone) : undefined;
  const server = serverFor(run.settings, provider);
  const [pub, lan, caa] = await Promise.all([
    checkPublic(run, h, zone, server),
    checkLan(run, h),
    checkCaa(run, h.host, zone, server),
  ]);
  const problem =
    ['missing', 'wrong', 'error'].includes(pub.state) ||
    ['missing', 'wrong', 'error'].includes(lan.state) ||
    caa.state === 'denied' ||
    caa.state === 'error';
  const state = problem ? 'problem' : pub.state === 'unknown' ? 'warning' : 'ok';
  return { host: h.host, services: h.services.sort(), zone: zone ?? null, state, public: pub, lan, caa };
}

async function checkPublic(
  run: Run,
  h: HostEntry,
  zone: string | undefined,
  server: string | undefined,
): Promise<DnsDoctorHost['public']> {
  const asked = server ?? SYSTEM;
  if (!h.isPublic)
    return {
      state: 'not_public',
      managed: false,
      server: asked,
      expected: [],
      actual: [],
      message: 'served to the LAN only (expose: lan): nothing expected in public DNS',
    };
  const desired = run.desired?.get(h.host);
  const managed = !!desired;
  const why = !run.desired
    ? 'not managed (dns_records off)'
    : !zone
      ? "not managed (no DNS provider's zone holds it)"
      : '';
  let expected: SetValues[] = [];
  let unknown = '';
  if (desired) {
    if (desired.problem) unknown = desired.problem;
    expected = desired.sets.map((s) => ({ type: s.type, values: s.values }));
  } else if (run.target) {
    expected = targetSets(h.host, run.target, run.settings.dns_records_ttl).map((s) => ({
      type: s.type,
      values: s.values,
    }));
  } else unknown = 'no public address known: set dns_records_target, or enrol a public edge';
  const got = await askAddresses(server, h.host, run.ms);
  const base = { managed, server: asked, expected: addressSets(expected) };
  const note = why ? ` — ${why}` : '';
  if (!got.ok) return { ...base, state: 'error', actual: [], message: `${asked}: ${got.error}${note}` };
  const actual = addressSets(got.value);
  if (unknown) return { ...base, state: 'unknown', actual, message: `${unknown}; answers ${show(actual)}` };
  const match = compareSets(expected, actual);
  const message =
    match === 'ok'
      ? `answers ${show(actual)} as it should${note}`
      : match === 'missing'
        ? `answers no address; should be ${show(base.expected)}${note}`
        : `answers ${show(actual)}; should be ${show(base.expected)}${note}`;
  return { ...base, state: match, actual, message };
}

async function checkLan(run: Run, h: HostEntry): Promise<DnsDoctorHost['lan']> {
  const s = run.settings;
  if (!run.lan)
    return {
      state: 'off',
      server: null,
      expected: [],
      actual: [],
      message: 'split horizon off (lan_dns: off)',
    };
  const server = lanDnsServer(s);
  const skip = (message: string) => ({
    state: 'skipped' as const,
    server,
    expected: [],
    actual: [],
    message,
  });
  const record = run.lan.records.find((r) => r.name === h.host);
  if (!record) {
    const skipped = run.lan.skipped.find((r) => r.name === h.host);
    return skip(skipped ? skipped.reason : 'not a service host: left to the usual answer');
  }
  if (s.lan_dns === 'dnsmasq' && record.wildcard)
    return skip("dnsmasq's hosts files hold no wildcards: left to the usual answer");
  const expected = [...record.a, ...record.aaaa].sort();
  const got = await askIps(server, wildcardBase(h.host), run.ms);
  if (!got.ok) return { state: 'error', server, expected, actual: [], message: `${server}: ${got.error}` };
  const match = compareSets(setsOfAddresses(expected), setsOfAddresses(got.value));
  const message =
    match === 'ok'
      ? `answers ${got.value.join(' ')} as it should`
      : match === 'missing'
        ? `answers no address; should be ${expected.join(' ')}`
        : `answers ${got.value.join(' ')}; should be ${expected.join(' ')}`;
  return { state: match, server, expected, actual: got.value, message };
}

async function checkCaa(
  run: Run,
  host: string,
  zone: string | undefined,
  server: string | undefined,
): Promise<DnsDoctorHost['caa']> {
  const answers = await Promise.all(
    caaNames(host, zone).map((name) => {
      const key = `${server ?? ''} ${name}`;
      let p = run.caa.get(key);
      if (!p) {
        p = askCaa(server, name, run.ms).then((a): Answer<CaaAt> =>
          a.ok ? { ok: true, value: { name, records: a.value } } : { ...a, error: `${name}: ${a.error}` },
        );
        run.caa.set(key, p);
      }
      return p;
    }),
  );
  const chain: CaaAt[] = [];
  // The closest name with records decides: a failure beyond it does not matter, one before it does.
  for (const a of answers) {
    if (!a.ok)
      return {
        state: 'error',
        at: null,
        records: [],
        issuers: [],
        message: `CAA could not be read: ${a.error}`,
      };
    chain.push(a.value);
    if (a.value.records.length > 0) break;
  }
  const v = caaVerdict(chain, run.issuer, host.startsWith('*.'));
  return { state: v.state, at: v.at, records: v.records, issuers: v.issuers, message: v.message };
}

async function checkProvider(
  deps: DnsDoctorDeps,
  p: DnsProviderView,
  ms: number,
): Promise<DnsDoctorProvider> {
  const t0 = Date.now();
  const c = p.config;
  const server =
    p.type === 'rfc2136' && typeof c.server === 'string'
      ? c.server
      : p.type === 'exec' && typeof c.check_server === 'string'
        ? c.check_server
        : null;
  const base = { name: p.name, type: p.type, zone: p.zone, server };
  const done = (state: DnsDoctorProvider['state'], message: string): DnsDoctorProvider => ({
    ...base,
    state,
    ms: Date.now() - t0,
    message,
  });
  if (server) {
    const soa = await askSoa(server, p.zone, ms);
    if (soa.ok) return done('reachable', `${server} answers the zone's SOA (serial ${soa.value.serial})`);
    return done(soa.timeout ? 'timeout' : 'unreachable', `${server}: ${soa.error}`);
  }
  if (p.type === 'exec') return done('not_checked', 'an exec hook without check_server: nothing to ask');
  let provider: DnsProvider | undefined;
  try {
    provider = await deps.providers.byName(p.name);
  } catch (err) {
    return done('unreachable', `cannot be built: ${err instanceof Error ? err.message : String(err)}`);
  }
  const records = provider as (DnsProvider & Partial<RecordProvider>) | undefined;
  if (!records || typeof records.get !== 'function')
    return done('not_checked', 'this provider cannot read records: nothing to ask');
  const got = await limited(records.get(p.zone), ms);
  if (got.ok) return done('reachable', `its API answered a read of ${p.zone}`);
  return done(got.timeout ? 'timeout' : 'unreachable', got.error);
}
