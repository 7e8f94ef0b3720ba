import { Resolver } from 'node:dns/promises';
import { join } from 'node:path';
import type { Part } from '../lifecycle.js';
import { durationMs } from '../model/values.js';
import type { Settings } from '../model/settings.js';
import { lanDnsServer } from '../model/lan-dns-settings.js';
import type { Logger } from '../observe/log.js';
import type { Registry } from '../registry/registry.js';
import { DnsmasqDriver } from './dnsmasq.js';
import {
  lanAddresses,
  planLan,
  wildcardBase,
  type AddressSource,
  type LanDriver,
  type LanNode,
  type LanPlan,
  type LanSkipped,
} from './lan-plan.js';
import { UnboundDriver } from './unbound.js';
import { ManagedUnbound, type ManagedUnboundStatus } from './unbound-process.js';

/** A served host as the LAN resolver should answer it, and as it does. */
export interface LanHostStatus {
  name: string;
  service: string;
  /** The name asked (a wildcard's base name: Unbound answers it from the redirect zone). */
  asked: string;
  expected: string[];
  /** What the resolver answered (A and AAAA); null when it could not be asked. */
  answered: string[] | null;
  ok: boolean;
  error?: string;
}

/** GET /api/v1/dns/lan. */
export interface LanDnsStatus {
  mode: Settings['lan_dns'];
  /** Where the resolver answers (lan_dns_server). */
  server: string;
  addresses: string[];
  address_source: AddressSource;
  last_sync: { at: string; changed: number; ms: number } | null;
  last_error: { at: string; message: string } | null;
  /** Every host answered as it should. */
  in_sync: boolean;
  hosts: LanHostStatus[];
  /** Served hosts the resolver leaves to the usual answer, and why. */
  skipped: LanSkipped[];
  /** The Unbound Gatehouse runs itself (lan_dns_unbound_listen), if it does. */
  managed?: ManagedUnboundStatus;
}

export interface LanResolverDeps {
  settings: Settings;
  registry: Registry;
  /** The edge nodes (their role and last address). */
  nodes: () => Promise<LanNode[]>;
  driver: LanDriver;
  log: Logger;
  /** The Unbound Gatehouse runs itself, if it does. */
  managed?: ManagedUnbound;
}

/** How long start waits for the first sync. */
const START_WAIT_MS = 2000;
/** How many names status asks the resolver about at a time. */
const ASK_AT_ONCE = 16;

/**
 * Keeps a LAN resolver answering every served host with the LAN edge's address: a full sync at
 * start, one after each registry change (within a second; changes meanwhile fold into the next),
 * and one every lan_dns_check_interval (drift: a restarted Unbound, an edited hosts file, a LAN
 * node's new address). A failure is logged and shown in status; it never holds up the registry.
 */
export class LanResolver implements Part {
  private running: Promise<void> | undefined;
  private again = false;
  private full = false;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private plan: LanPlan = { records: [], skipped: [] };
  private unsupported: LanSkipped[] = [];
  private addresses: { addresses: string[]; source: AddressSource } = { addresses: [], source: 'none' };
  private lastSync: LanDnsStatus['last_sync'] = null;
  private lastError: LanDnsStatus['last_error'] = null;
  private failing = false;

  constructor(private readonly d: LanResolverDeps) {}

  async start(): Promise<void> {
    this.unsubscribe = this.d.registry.onChange(() => void this.kick(false));
    this.timer = setInterval(() => void this.kick(), durationMs(this.d.settings.lan_dns_check_interval));
    this.timer.unref();
    // The first full sync, waited for a little (usually done before Gatehouse says it is up); a
    // resolver that hangs does not hold up the start.
    let wait: NodeJS.Timeout | undefined;
    await Promise.race([this.kick(), new Promise((r) => (wait = setTimeout(r, START_WAIT_MS)))]);
    clearTimeout(wait);
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    clearInterval(this.timer);
    // A sync under way finishes before what it reads (the store) is closed.
    await this.running;
  }

  /**
   * Syncs now, or right after the sync under way; resolves when a sync that saw this call is done.
   * `full`: the resolver is read back first (start, checks, a restarted resolver); a registry
   * change goes by what the last sync left there, for speed.
   */
  kick(full = true): Promise<void> {
    this.full ||= full;
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        const full = this.full;
        this.full = false;
        await this.syncOnce(full);
      } while (this.again);
      this.running = undefined;
    })();
    return this.running;
  }

  private async syncOnce(full: boolean): Promise<void> {
    const t0 = Date.now();
    try {
      const s = this.d.settings;
      this.addresses = lanAddresses(s.lan_dns_address, await this.d.nodes());
      const services = this.d.registry.list().map((r) => r.service);
      this.plan = planLan(services, this.addresses.addresses, s.lan_dns_public_hosts === 'answer');
      const r = await this.d.driver.sync(this.plan.records, full);
      this.unsupported = r.unsupported;
      this.lastSync = { at: new Date().toISOString(), changed: r.changed, ms: Date.now() - t0 };
      if (this.failing) this.d.log.info({ resolver: this.d.driver.kind }, 'LAN DNS: resolver in sync again');
      this.failing = false;
      this.lastError = null;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.lastError = { at: new Date().toISOString(), message };
      // Once per outage at warn level; while it lasts, each retry at debug.
      this.d.log[this.failing ? 'debug' : 'warn']({ err: message }, 'LAN DNS: sync failed; retried');
      this.failing = true;
    }
  }

  /** What the resolver should answer against what it answers (asked with node:dns). */
  async status(): Promise<LanDnsStatus> {
    const s = this.d.settings;
    const unsupported = new Set(this.unsupported.map((u) => u.name));
    const records = this.plan.records.filter((r) => !unsupported.has(r.name));
    const resolver = new Resolver({ timeout: 1000, tries: 1 });
    const server = lanDnsServer(s);
    resolver.setServers([server]);
    const hosts: LanHostStatus[] = [];
    for (let i = 0; i < records.length; i += ASK_AT_ONCE) {
      const batch = records.slice(i, i + ASK_AT_ONCE);
      hosts.push(
        ...(await Promise.all(
          batch.map(async (r): Promise<LanHostStatus> => {
            const asked = wildcardBase(r.name);
            const expected = [...r.a, ...r.aaaa].sort();
            const got = await ask(resolver, asked, r.aaaa.length > 0);
            const base = { name: r.name, service: r.service, asked, expected };
            if ('error' in got) return { ...base, answered: null, ok: false, error: got.error };
            const answered = got.addresses.sort();
            return { ...base, answered, ok: answered.join(' ') === expected.join(' ') };
          }),
        )),
      );
    }
    return {
      mode: s.lan_dns,
      server,
      addresses: this.addresses.addresses,
      address_source: this.addresses.source,
      last_sync: this.lastSync,
      last_error: this.lastError,
      in_sync: this.lastError === null && hosts.every((h) => h.ok),
      hosts,
      skipped: [...this.plan.skipped, ...this.unsupported].sort((a, b) => (a.name < b.name ? -1 : 1)),
      ...(this.d.managed ? { managed: this.d.managed.status() } : {}),
    };
  }
}

/** A name's A (and AAAA) answers; NXDOMAIN and NODATA are no addresses, anything else an error. */
async function ask(
  r: Resolver,
  name: string,
  v6: boolean,
): Promise<{ addresses: string[] } | { error: string }> {
  const none = (err: unknown): string[] => {
    const code = (err as { code?: string }).code;
    if (code === 'ENODATA' || code === 'ENOTFOUND') return [];
    throw err;
  };
  try {
    const [a, aaaa] = await Promise.all([
      r.resolve4(name).catch(none),
      v6 ? r.resolve6(name).catch(none) : Promise.resolve([]),
    ]);
    return { addresses: [...a, ...aaaa] };
  } catch (err) {
    const code = (err as { code?: string }).code;
    return { error: code ?? String(err) };
  }
}

/** The status when lan_dns is off. */
export function lanDnsOff(settings: Settings): LanDnsStatus {
  return {
    mode: 'off',
    server: lanDnsServer(settings),
    addresses: [],
    address_source: 'none',
    last_sync: null,
    last_error: null,
    in_sync: true,
    hosts: [],
    skipped: [],
  };
}

/** The driver lan_dns names (none when off); `control` overrides the Unbound control endpoint. */
export function lanDriver(settings: Settings, log: Logger, control?: string): LanDriver | undefined {
  if (settings.lan_dns === 'unbound')
    return new UnboundDriver({
      control: control ?? settings.lan_dns_unbound_control,
      ...(settings.lan_dns_unbound_config && !control ? { config: settings.lan_dns_unbound_config } : {}),
      bin: settings.lan_dns_unbound_control_bin,
      dir: join(settings.data_dir, 'dns'),
      log,
    });
  if (settings.lan_dns === 'dnsmasq' && settings.lan_dns_dnsmasq_hostsdir)
    return new DnsmasqDriver(settings.lan_dns_dnsmasq_hostsdir, log);
  return undefined;
}

/**
 * The LAN resolver lan_dns asks for, started (its first sync done or failed and logged); none when
 * off. With lan_dns_unbound_listen, Gatehouse first starts its own Unbound (a failed start stops
 * Gatehouse's: the operator asked for a resolver that cannot run).
 */
export async function startLanResolver(
  deps: Omit<LanResolverDeps, 'driver' | 'managed'>,
  life: { start<P extends Part>(p: P): Promise<P> },
): Promise<LanResolver | undefined> {
  const s = deps.settings;
  const log = deps.log.child({ part: 'lan-dns' });
  /** The resolver, once built (a managed Unbound's restart kicks it). */
  const built: { resolver?: LanResolver } = {};
  const managed =
    s.lan_dns === 'unbound' && s.lan_dns_unbound_listen
      ? await life.start(
          new ManagedUnbound({
            bin: s.lan_dns_unbound_bin,
            controlBin: s.lan_dns_unbound_control_bin,
            dir: join(s.data_dir, 'dns', 'unbound'),
            listen: s.lan_dns_unbound_listen,
            forward: s.lan_dns_forward,
            allow: s.lan_dns_allow,
            log,
            // A restarted Unbound holds none of the records: pushed again at once.
            onRestart: () => void built.resolver?.kick(),
          }),
        )
      : undefined;
  const driver = lanDriver(s, log, managed?.control);
  if (!driver) return undefined;
  built.resolver = await life.start(
    new LanResolver({ ...deps, driver, log, ...(managed ? { managed } : {}) }),
  );
  return built.resolver;
}
