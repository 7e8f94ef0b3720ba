import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { NginxDriver } from '../drivers/nginx/driver.js';
import { sessionKeyEnv } from '../model/session.js';
import type { Gate } from '../gate/gate.js';
import type { Settings } from '../model/settings.js';
import { durationMs, parseResolverSetting } from '../model/values.js';
import { nameLookup } from '../dns/name-lookup.js';
import { UpstreamNames } from '../dns/upstream-names.js';
import { isLocalAddress } from './host-checks.js';
import type { Logger } from '../observe/log.js';
import type { Registry } from '../registry/registry.js';
import { keyDir } from '../tls/key-dir.js';
import type { CertStore } from '../tls/store.js';
import { EdgeFeed } from './feed.js';
import { LocalEdge } from './local-edge.js';
import { CrowdsecBouncer } from '../gate/crowdsec.js';

export interface EdgePublisherDeps {
  settings: Settings;
  registry: Registry;
  gate: Gate;
  certs: CertStore;
  /** The login portal's host: Gatehouse serves it (and gets its certificate) itself. */
  portal: string | undefined;
  /** Ports Gatehouse listens on (gatehouse.ts reservedPorts): a name may not lead there on this machine. */
  reservedPorts?: ReadonlyMap<number, string>;
  log: Logger;
}

/**
 * The one owner of what serves the registry: the local edge (nginx on this machine) and the feed
 * that remote edge nodes long-poll. Whatever else changes what edges serve (a certificate, time
 * passing an expiry, an ACME HTTP-01 answer) comes here and reaches both.
 */
export class EdgePublisher {
  readonly edge: LocalEdge;
  readonly feed: EdgeFeed;
  /** ACME HTTP-01 answers in flight, by token: served by the edges with the config. */
  private readonly answers = new Map<string, string>();
  private certTimer: NodeJS.Timeout | undefined;
  private readonly driver: NginxDriver;
  /** DNS names in upstreams, resolved here for the local edge and the feed alike. */
  readonly names: UpstreamNames;
  private unsubscribeNames: (() => void) | undefined;
  private edgeStarted = false;
  /** CrowdSec's decisions, when a Local API is set (crowdsec_url): enforced on every edge. */
  readonly crowdsec: CrowdsecBouncer | undefined;

  /**
   * Serves exactly these ACME HTTP-01 answers (the shared store's, src/tls/shared-challenges.ts):
   * resolves once this machine's nginx serves them and the edges it feeds have them (at most 5 s:
   * public edges answer the CA too, DNS points at them).
   */
  readonly serveChallenges = async (answers: ReadonlyMap<string, string>): Promise<void> => {
    const same =
      answers.size === this.answers.size && [...answers].every(([t, ka]) => this.answers.get(t) === ka);
    if (same) return;
    const added = [...answers].some(([t, ka]) => this.answers.get(t) !== ka);
    this.answers.clear();
    for (const [t, ka] of answers) this.answers.set(t, ka);
    if (!added) {
      // Only removals: nothing waits for them.
      this.changed();
      return;
    }
    this.feed.signal();
    await this.edge.refresh();
    await this.feed.settled(5000);
  };

  /** Picks where nginx's keys go (memory when it can), then builds the edge and the feed. */
  static async open(deps: EdgePublisherDeps): Promise<EdgePublisher> {
    const dataDir = deps.settings.data_dir;
    const keys = await keyDir(dataDir, join(dataDir, 'nginx', 'tls'));
    return new EdgePublisher(deps, keys);
  }

  private constructor(
    private readonly deps: EdgePublisherDeps,
    private readonly keys: { dir: string; inMemory: boolean },
  ) {
    const { settings, registry, gate, certs, portal, log } = deps;
    const decisionsFile = join(settings.data_dir, 'crowdsec', 'decisions.list');
    const listeners = { http: settings.http_port, https: settings.https_port };
    const tlsInput = async () => ({
      certs: await certs.inventory(),
      challenges: this.answers,
      ownHosts: portal ? [portal] : [],
    });
    const driver = new NginxDriver({
      bin: settings.nginx_bin,
      prefix: join(settings.data_dir, 'nginx'),
      modulesDir: settings.nginx_modules_dir,
      workers: settings.nginx_workers,
      workerShutdownSeconds: Math.ceil(durationMs(settings.nginx_worker_shutdown_timeout) / 1000),
      trustedProxies: settings.trusted_proxies,
      ...(settings.geoip_db || settings.geoip_asn_db
        ? {
            geoip: {
              ...(settings.geoip_db ? { country: settings.geoip_db } : {}),
              ...(settings.geoip_asn_db ? { asn: settings.geoip_asn_db } : {}),
              checkSeconds: Math.ceil(durationMs(settings.geoip_check_interval) / 1000),
            },
          }
        : {}),
      ...(settings.crowdsec_url ? { decisionsFile } : {}),
      log: log.child({ part: 'nginx' }),
      gate: gate.env,
      env: sessionKeyEnv(gate.sessionKey, gate.previousSessionKey),
      certMaterial: (id) => certs.material(id),
      tlsDir: keys.dir,
    });
    this.driver = driver;
    const resolver = parseResolverSetting(settings.upstream_resolver);
    this.names = new UpstreamNames({
      // The settings' schema refused any other value.
      lookup: nameLookup(typeof resolver === 'string' ? { kind: 'system' } : resolver),
      log: log.child({ part: 'upstream-names' }),
      // The local edge applies only once started (its first apply compiles with the answers then).
      onChange: () => {
        this.feed.signal();
        if (this.edgeStarted) this.edge.schedule();
      },
      defaultTtlMs: durationMs(settings.upstream_name_ttl),
      refuse: (ip, port) => {
        const own = deps.reservedPorts?.get(port);
        return own && isLocalAddress(ip) ? `Gatehouse's own ${own} port on this machine` : undefined;
      },
    });
    this.edge = new LocalEdge(registry, driver, listeners, log.child({ part: 'edge' }), tlsInput);
    this.edge.useNames(this.names);
    if (settings.crowdsec_url && settings.crowdsec_api_key) {
      const csLog = log.child({ part: 'crowdsec' });
      this.crowdsec = new CrowdsecBouncer({
        url: settings.crowdsec_url,
        apiKey: settings.crowdsec_api_key,
        intervalMs: durationMs(settings.crowdsec_poll_interval),
        file: decisionsFile,
        log: csLog,
        // Into this nginx's memory (it reads the file when it starts), and to every edge.
        onChange: () => {
          driver.decisions
            .sync()
            .catch((err: unknown) =>
              csLog.error({ err: String(err) }, 'could not send the decisions to nginx'),
            );
          this.feed.signal();
        },
      });
      this.edge.crowdsec = true;
    }
    // Remote edge nodes: the same config (per role), certificates and gate state.
    this.feed = new EdgeFeed({
      registry,
      listeners,
      tlsInput,
      certMaterial: (id) => certs.material(id),
      gate: {
        stateDir: gate.env.stateDir,
        sessionKey: gate.sessionKey,
        ...(gate.previousSessionKey ? { previousSessionKey: gate.previousSessionKey } : {}),
        cookie: gate.env.cookie,
        ...(portal ? { portalHost: portal } : {}),
      },
      log: log.child({ part: 'feed' }),
      names: this.names,
      ...(this.crowdsec ? { decisions: () => (this.crowdsec as CrowdsecBouncer).current() } : {}),
    });
  }

  /** Looks up the names the services use now (new ones at once); bounded, never rejects. */
  private trackNames(): Promise<void> {
    const services = Array.from(this.deps.registry.state().values(), (r) => r.service);
    return this.names
      .track(services)
      .catch((err: unknown) => this.deps.log.error({ err: String(err) }, 'upstream names: lookup failed'));
  }

  /** Brings nginx up on the registry as it is; rejects if that first apply fails. */
  async start(): Promise<void> {
    const { settings, registry } = this.deps;
    // The first config has the names' answers (a lookup gives up after a few seconds at most).
    await Promise.race([this.trackNames(), new Promise((r) => setTimeout(r, 5000).unref())]);
    this.unsubscribeNames = registry.onChange(() => void this.trackNames());
    this.names.start();
    this.feed.start();
    // Certificates expire without a write: look again every hour.
    this.certTimer = setInterval(() => this.changed(), 3_600_000);
    this.certTimer.unref();
    const names = this.names.version;
    await this.edge.start({
      driftCheckMs: durationMs(settings.drift_check_interval),
      logMaxBytes: settings.nginx_log_max_mb * 1024 * 1024,
    });
    this.edgeStarted = true;
    // Not awaited: a Local API that does not answer must not hold Gatehouse's start.
    void this.crowdsec?.start();
    // An answer that changed while nginx came up.
    if (this.names.version !== names) this.edge.schedule();
  }

  async stop(): Promise<void> {
    clearInterval(this.certTimer);
    this.crowdsec?.stop();
    this.unsubscribeNames?.();
    this.names.stop();
    this.feed.stop();
    try {
      await this.edge.stop();
    } finally {
      // Keys in memory-backed storage go with us (nginx stops with us too).
      if (this.keys.inMemory) await rm(dirname(this.keys.dir), { recursive: true, force: true });
    }
  }

  /**
   * A rotated session key (Gate.useSessionKey): the local nginx restarts with it and the previous
   * one (it reads them from its environment); edge nodes get both in their next body.
   */
  async sessionKeyChanged(): Promise<void> {
    const { gate } = this.deps;
    const previous = gate.previousSessionKey;
    this.driver.setGate(gate.env, sessionKeyEnv(gate.sessionKey, previous));
    await this.driver.restartForEnv();
    this.feed.setSessionKey(gate.sessionKey, previous);
  }

  /** What edges serve changed outside the registry (a certificate came or went): both render again. */
  changed(): void {
    this.edge.schedule();
    this.feed.signal();
  }
}
