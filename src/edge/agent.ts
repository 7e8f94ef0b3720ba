import { chmod, mkdir, rm } from 'node:fs/promises';
import { reachMessage, workerReach } from '../store/data-dir.js';
import { securePermissions } from '../store/permissions.js';
import { dirname, join } from 'node:path';
import type { EdgeConfig } from '../compile/edge-config.js';
import { NginxDriver } from '../drivers/nginx/driver.js';
import { sessionKeyEnv, type GateEnv } from '../model/session.js';
import { VERSION } from '../observe/version.js';
import { keyDir } from '../tls/key-dir.js';
import type { EdgeFeedBody, FeedSecrets } from './feed.js';
import { GateRelay } from './gate-relay.js';
import { RegisterRelay } from './register-relay.js';
import { EdgeStateMirror } from './state-mirror.js';
import { HealthChecker } from './health.js';
import { ConfigInterner } from './intern.js';
import { EdgeStateCache } from './state-cache.js';
import { openAsNode } from './transit.js';
import type { EdgeTunnel } from '../vpn/edge-tunnel.js';
import type { TunnelProber } from '../vpn/latency.js';
import type { TunnelReport } from '../vpn/stats.js';
import { StatusReporter, type NodeReport } from './status-report.js';
import { agentTunnel } from './tunnel-report.js';
import { EdgeTraffic } from './traffic-edge.js';
import type { AgentOptions } from './agent-options.js';
import { ControlDown, round1, unreachable } from './control-errors.js';

export type { AgentOptions } from './agent-options.js';

/**
 * An edge node: long-polls the control plane with the hash of what it holds, applies each new body
 * through its own nginx (the same driver as the control plane's local edge), mirrors the gate's
 * state, relays sign-in to the control plane's gate, and reports what it applied. Only outgoing
 * requests: an edge behind NAT works.
 */
export class EdgeAgent {
  private stopped = false;
  private abort = new AbortController();
  /** Hash of the body held (what is sent as `have`). */
  private have = '';
  private body: EdgeFeedBody | undefined;
  private secrets: FeedSecrets | undefined;
  /** What nginx serves: config hash + down servers. */
  private appliedKey = '';
  private applying: Promise<void> = Promise.resolve();
  private lastError = '';
  /** How the last apply reached nginx: its shared memory only (dynamic), or a reload. */
  private lastMode: 'dynamic' | 'reload' | undefined;
  /** Where the last apply's time went (ms): the driver's stages, and the whole of it. */
  private lastStages: Record<string, number> = {};
  readonly driver: NginxDriver;
  private readonly relay: GateRelay;
  /** The registration listener, with --register-listen. */
  readonly registrations: RegisterRelay | undefined;
  private readonly health: HealthChecker;
  private readonly gateDir: string;
  /** Keys in memory-backed storage go with the agent (its nginx stops with it). */
  private memoryDir: string | undefined;
  private tlsDir: string | undefined;
  /** Objects of the previous config put back in place of equal ones (see intern.ts). */
  private readonly interner = new ConfigInterner();
  /** The gate state and CrowdSec's decisions, as the feed last sent them. */
  private readonly mirror: EdgeStateMirror;
  /** The control URLs, and the index of the one followed now. */
  private readonly controls: string[];
  private current = 0;
  /** Failures in a row (each moves to the next URL; a whole round without an answer waits a second). */
  private failures = 0;
  /** The last good body on disk (state-cache.ts). */
  private readonly cache: EdgeStateCache;
  private readonly reporter: StatusReporter;
  /** With a tunnel: its sites' probes and its peers' figures, sent with each report (every 5 s). */
  private readonly prober: TunnelProber | undefined;
  private tunnelReport: TunnelReport | undefined;

  constructor(private readonly o: AgentOptions) {
    this.controls = (Array.isArray(o.control) ? o.control : [o.control]).map((u) => u.replace(/\/$/, ''));
    if (this.controls.length === 0) throw new Error('edge: no control URL');
    this.gateDir = join(o.dataDir, 'gate');
    const decisionsFile = join(o.dataDir, 'decisions.list');
    this.driver = new NginxDriver({
      bin: o.nginxBin,
      prefix: join(o.dataDir, 'nginx'),
      modulesDir: o.modulesDir,
      workers: o.workers,
      ...(o.geoip ? { geoip: o.geoip } : {}),
      // CrowdSec's decisions, from the feed (used while the config enforces them).
      decisionsFile,
      log: o.log.child({ part: 'nginx' }),
      certMaterial: async (id) => {
        const m = this.secrets?.certs[id];
        if (!m) throw new Error(`certificate ${id} was not in the control plane's feed`);
        return m;
      },
    });
    this.mirror = new EdgeStateMirror({
      stateDir: join(this.gateDir, 'state'),
      decisionsFile,
      driver: this.driver,
      log: o.log,
    });
    this.relay = new GateRelay(() => this.base, o.token);
    this.registrations = o.registerListen
      ? new RegisterRelay({
          ...o.registerListen,
          controls: () => ({ urls: this.controls, current: this.base }),
          token: o.token,
          log: o.log.child({ part: 'register' }),
        })
      : undefined;
    this.cache = new EdgeStateCache(
      o.dataDir,
      o.token,
      o.log,
      (message) => {
        this.lastError = message;
        this.reportLater();
      },
      () => this.body !== undefined,
    );
    this.health = new HealthChecker(() => void this.serve().catch(() => undefined), o.log);
    const t = o.tunnel
      ? agentTunnel({
          tunnel: o.tunnel,
          dataDir: o.dataDir,
          base: () => this.base,
          token: o.token,
          section: () => this.body?.config.tunnel,
          report: (r) => {
            this.tunnelReport = r;
            this.reportLater();
          },
          log: o.log,
        })
      : undefined;
    this.tunnel = t?.tunnel;
    this.prober = t?.prober;
    this.traffic = new EdgeTraffic({
      prefix: join(o.dataDir, 'nginx'),
      base: () => this.base,
      token: o.token,
      config: () => this.body?.config,
      log: o.log.child({ part: 'access-log' }),
      ...(o.metricsListen ? { metricsListen: o.metricsListen } : {}),
      // As the control plane's nginx_log_max_mb default: 100 MB.
      rotate: () => this.driver.rotateLogs(100 * 1024 * 1024),
    });
    this.reporter = new StatusReporter({
      base: () => this.base,
      token: o.token,
      status: () => this.status(),
      stopped: () => this.stopped,
    });
  }

  /** Its access log → traffic metrics and records for the control plane (edge/traffic-edge.ts). */
  readonly traffic: EdgeTraffic;

  /** The WireGuard server, with --tunnel-port (src/vpn/edge-tunnel.ts). */
  private readonly tunnel: EdgeTunnel | undefined;

  /** Serves the cached body at start, so a restart while the control plane is away serves at once. */
  private async fromCache(): Promise<void> {
    const body = await this.cache.read();
    if (!body) return;
    await this.take(body);
    this.o.log.info(
      { version: body.version },
      'edge: serving the cached config until the control plane answers',
    );
  }

  async run(): Promise<void> {
    // First: a port taken stops the start before anything else is open.
    await this.registrations?.start();
    await mkdir(this.gateDir, { recursive: true, mode: 0o711 });
    // nginx's workers (an unprivileged user) reach the relay socket and test for state files here.
    await chmod(this.gateDir, 0o711);
    await mkdir(join(this.gateDir, 'state'), { recursive: true, mode: 0o711 });
    await chmod(this.o.dataDir, 0o711).catch(() => undefined);
    // As on the control plane: workers locked out of the data dir would answer 403 to every guarded route.
    const reach = workerReach(this.o.dataDir);
    if (!reach.ok) throw new Error(reachMessage(this.o.dataDir, reach));
    await securePermissions(this.o.dataDir, this.o.log);
    await this.relay.listen(join(this.gateDir, 'gate.sock'));
    const { dir: tlsDir, inMemory } = await keyDir(this.o.dataDir, join(this.o.dataDir, 'nginx', 'tls'));
    this.driver.setTlsDir(tlsDir);
    this.tlsDir = tlsDir;
    if (inMemory) this.memoryDir = dirname(tlsDir);
    await this.driver.init();
    await this.traffic.start();
    await this.fromCache().catch((err: unknown) =>
      this.o.log.error({ err: String(err) }, 'edge: the cached config could not be applied'),
    );
    if (!this.body) this.tunnel?.set(undefined);
    this.prober?.start();
    while (!this.stopped) {
      try {
        const res = await fetch(`${this.base}/edge/v1/config?have=${this.have}&wait=25`, {
          headers: { authorization: `Bearer ${this.o.token}` },
          signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(40_000)]),
        }).catch(unreachable);
        if (res.status === 204) {
          this.answered();
          continue;
        }
        if (res.status === 401) {
          await this.revoked();
          throw new Error('the control plane refused this node token');
        }
        if (res.status >= 500) throw new ControlDown(`control plane answered ${res.status}`);
        if (!res.ok) throw new Error(`control plane answered ${res.status}`);
        const tr = performance.now();
        const body = (await res.json().catch(unreachable)) as EdgeFeedBody;
        this.failures = 0;
        const t0 = performance.now();
        this.lastStages = {};
        await this.take(body);
        this.o.log.info(
          {
            version: body.version,
            mode: this.lastMode,
            ms: Math.round(performance.now() - t0),
            stages: { parse: round1(t0 - tr), ...this.lastStages },
          },
          'config applied',
        );
        this.lastError = '';
        // The next long-poll starts now: the state cache and the report follow in the background
        // (one at a time, the latest winning), so a change that comes meanwhile is not held back by
        // encrypting and writing the last one (tens of ms at 1,000 routes on a busy machine).
        this.cache.saveLater(body);
        this.reportLater();
      } catch (err) {
        if (this.stopped) break;
        this.lastError = err instanceof Error ? err.message : String(err);
        // No answer (refused, reset, timed out) or a 5xx: this replica is down, the next one is asked.
        if (err instanceof ControlDown && this.failover()) continue;
        this.o.log.warn(
          { err: this.lastError, control: this.base },
          'edge: could not get or apply the config; retrying',
        );
        this.reportLater();
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /**
   * The control plane does not know this node (removed, or its token replaced): it must not go on
   * serving with the keys it was given. nginx stops and the cache goes; the agent keeps asking, so
   * a node enrolled again under the same token (never: tokens are random) or a mistaken URL fixed
   * brings it back.
   */
  private async revoked(): Promise<void> {
    if (!this.body && !this.driver.process.running) return;
    this.o.log.error(
      'edge: the control plane refused this node token; stopped serving and removed the cache',
    );
    this.body = undefined;
    this.secrets = undefined;
    this.have = '';
    this.appliedKey = '';
    // The cache first: once nginx has stopped, nothing of this node's may remain (a write under
    // way finishes first, and none queued follows).
    await this.cache.remove();
    await this.applying;
    await this.driver.stop();
    if (this.tlsDir) await rm(this.tlsDir, { recursive: true, force: true });
  }

  /** An answer after failures: the error reported last is over. */
  private answered(): void {
    this.failures = 0;
    if (!this.lastError) return;
    this.lastError = '';
    this.reportLater();
  }

  /** The control URL followed now. */
  get base(): string {
    return this.controls[this.current] as string;
  }

  /**
   * The control plane at `base` did not answer: follow the next URL (the last config keeps serving
   * meanwhile). False when there is no other, or a whole round failed (then wait before the next).
   */
  private failover(): boolean {
    if (this.controls.length < 2) return false;
    const from = this.base;
    // Reported to the next replica: the error names the URL it was about.
    this.lastError = `${from}: ${this.lastError}`;
    this.current = (this.current + 1) % this.controls.length;
    this.failures += 1;
    this.o.log.warn(
      { to: this.base, err: this.lastError },
      'edge: control plane not answering; following the next control URL',
    );
    // Tells the new one at once which replica this edge follows now.
    this.reportLater();
    return this.failures % this.controls.length !== 0;
  }

  /** Takes a body: secrets, gate state, then the config (nginx reloads only when that changed). */
  private async take(body: EdgeFeedBody): Promise<void> {
    const t0 = performance.now();
    const secrets = openAsNode<FeedSecrets>(this.o.token, body.sealed);
    const gate: GateEnv = {
      socket: join(this.gateDir, 'gate.sock'),
      stateDir: join(this.gateDir, 'state'),
      cookie: body.gate.cookie,
      ...(body.gate.portalHost ? { portalHost: body.gate.portalHost } : {}),
    };
    this.driver.setGate(gate, sessionKeyEnv(secrets.sessionKey, secrets.previousSessionKey));
    const st = body.gate.state;
    await this.mirror.gate(st);
    this.relay.stateSynced(st.epoch, st.seq);
    const decisions = await this.mirror.writeDecisions(body.decisions);
    this.secrets = secrets;
    const ti = performance.now();
    this.body = { ...body, config: this.interner.intern(body.config) };
    const ts = performance.now();
    await this.serve();
    if (decisions) await this.mirror.sendDecisions(body.decisions ?? '');
    this.tunnel?.set(body.config.tunnel);
    this.lastStages = { gate: round1(ti - t0), intern: round1(ts - ti), ...this.lastStages };
    // A rotated session key: nginx reads it (and the previous one) from its environment.
    if (await this.driver.restartForEnv()) this.o.log.info('nginx restarted with the rotated session key');
    this.have = body.hash;
  }

  /** Applies the held config with the servers health checks found down (once at a time). */
  private serve(): Promise<void> {
    const next = this.applying.then(async () => {
      const body = this.body;
      if (!body || this.stopped) return;
      const cfg: EdgeConfig = {
        ...body.config,
        // This edge's own listeners; the config's identity stays the control plane's hash.
        listeners: { http: this.o.httpPort, https: this.o.httpsPort },
      };
      const down = this.health.down;
      const key = `${cfg.hash} ${[...down].sort().join(',')}`;
      if (key === this.appliedKey) return;
      const t0 = performance.now();
      const applied = await this.driver.apply(cfg, down);
      this.lastMode = applied.mode;
      const { render, file, send } = applied.stages;
      this.lastStages = {
        apply: round1(performance.now() - t0),
        render: round1(render),
        file: round1(file),
        send: round1(send),
      };
      this.appliedKey = key;
      this.health.update(cfg);
      if (this.have === body.hash) this.reportLater();
    });
    this.applying = next.catch(() => undefined);
    return next;
  }

  /** Reports what this node holds (status-report.ts). */
  private reportLater(): void {
    this.reporter.later();
  }

  /** The report as of now: what it applied, its errors, and with a tunnel, its figures. */
  private status(): NodeReport {
    return {
      applied_hash: this.have,
      applied_version: this.have && this.body ? this.body.version : 0,
      error: this.lastError.slice(0, 1000),
      version: VERSION,
      down: [...this.health.down].sort(),
      control: this.base,
      ...(this.tunnelReport ? { tunnel: this.tunnelReport } : {}),
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.health.stop();
    await this.registrations?.stop();
    this.prober?.stop();
    await this.tunnel?.stop();
    await this.applying;
    await this.traffic.stop();
    await this.cache.drain();
    await this.relay.close();
    await this.driver.stop();
    if (this.memoryDir) await rm(this.memoryDir, { recursive: true, force: true });
  }
}
