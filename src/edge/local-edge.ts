import { EventEmitter } from 'node:events';
import { Compiler } from '../compile/incremental.js';
import type { CertRef } from '../model/tls.js';
import type { EdgeConfig } from '../compile/edge-config.js';
import type { NginxDriver } from '../drivers/nginx/driver.js';
import { GatehouseError } from '../model/errors.js';
import type { Logger } from '../observe/log.js';
import type { Registry } from '../registry/registry.js';
import { HealthChecker } from './health.js';
import { PassiveHealth, type UpstreamLogTarget } from './passive-health.js';
import type { UpstreamNames } from '../dns/upstream-names.js';
import type { EdgeStatus } from './edge-status.js';

export type { EdgeStatus } from './edge-status.js';

/**
 * The least time between the start of a reload and the next apply in a burst of changes: a reload
 * costs nginx ~100 ms and new workers, so the changes arriving meanwhile fold into one more.
 */
const FOLD_MS = 100;
/** After an update without reload, the next apply waits at most this long (see loop). */
const DYNAMIC_FOLD_MS = 20;

/** In a burst, the rest after an update without reload, as a multiple of what the update took. */
const FOLD_REST = 3;

/**
 * The edge agent in single-machine mode: follows the registry in the same process and applies each
 * change through the nginx driver. A change starts an apply at once; changes that arrive while one
 * is running are folded into the next, so a burst costs one or two reloads, not one per change.
 */
export class LocalEdge {
  private readonly status: EdgeStatus = {
    appliedVersion: 0,
    applies: 0,
    applying: false,
    proxy: { running: false, restarts: 0 },
    downServers: [],
    checkedServers: [],
    failingServers: [],
  };
  private running: Promise<void> | undefined;
  /** Keeps what it compiled: the next apply compiles only the services that changed. */
  private readonly compiler = new Compiler();
  private stopped = false;
  private dirty = false;
  /** When the oldest change not yet being applied arrived (for the `wait` stage). */
  private pendingSince: number | undefined;
  private lastDownKey = '';
  private readonly events = new EventEmitter();
  private readonly health: HealthChecker;
  private readonly passive: PassiveHealth;
  private upstreamLog: UpstreamLogTarget | undefined;
  private driftTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  /** Hosts the live config serves over HTTPS. */
  private httpsHosts = new Set<string>();
  private httpsHostsOf: EdgeConfig['tls']['hosts'] | undefined;
  /** Resolves the DNS names in upstreams: services are compiled with their addresses. */
  private names: UpstreamNames | undefined;

  /** The config nginx serves (the access log reader names services and routes from it). */
  private served: EdgeConfig | undefined;

  get config(): EdgeConfig | undefined {
    return this.served;
  }

  /** Compiles services as `names` sees them (names replaced by their addresses). */
  useNames(names: UpstreamNames): void {
    this.names = names;
  }

  /** Enforce CrowdSec's decisions (the config says so; the driver has their file). */
  crowdsec = false;

  /** Called after each apply attempt (and health change) settles; returns the unsubscribe. */
  onSettled(fn: () => void): () => void {
    this.events.on('settled', fn);
    return () => this.events.off('settled', fn);
  }

  /** Whether the live config serves this host over HTTPS. */
  servesHttps(host: string): boolean {
    return this.httpsHosts.has(host);
  }

  constructor(
    private readonly registry: Registry,
    private readonly driver: NginxDriver,
    private readonly listeners: { http: number; https: number },
    private readonly log: Logger,
    /** Valid certificates and pending ACME challenges; none when absent. */
    private readonly tlsInput?: () => Promise<{
      certs: CertRef[];
      challenges: ReadonlyMap<string, string>;
      ownHosts?: string[];
    }>,
  ) {
    this.health = new HealthChecker(() => this.schedule(), log);
    this.passive = new PassiveHealth(() => this.events.emit('settled'), log);
    this.events.setMaxListeners(0);
    driver.process.onUnexpectedExit = (code, output) => {
      const error = {
        code: 'nginx_exited',
        message:
          `nginx exited (code ${String(code)}); restarting it with the last good config. ${output.slice(-300)}`.trim(),
        version: this.status.appliedVersion,
        at: new Date().toISOString(),
      };
      this.status.lastError = error;
      void this.clearWhenBack(error);
    };
  }

  /** Brings nginx up on the current registry state; rejects if that first apply fails. */
  async start(opts: { driftCheckMs?: number; logMaxBytes?: number } = {}): Promise<void> {
    await this.driver.init();
    this.upstreamLog = await this.passive.start();
    this.unsubscribe = this.registry.onChange(() => this.schedule());
    this.schedule();
    await this.running;
    if (this.status.lastError && !this.status.appliedHash) {
      throw new GatehouseError(this.status.lastError.code, this.status.lastError.message, 500);
    }
    this.driftTimer = setInterval(() => {
      this.checkDrift();
      const max = opts.logMaxBytes;
      if (max)
        void this.driver
          .rotateLogs(max)
          .catch((err: unknown) => this.log.error({ err: String(err) }, 'log rotation failed'));
    }, opts.driftCheckMs ?? 5000);
    this.driftTimer.unref();
  }

  async stop(): Promise<void> {
    // First, so that nothing that settles during shutdown (a health probe, a write) starts an apply.
    this.stopped = true;
    this.unsubscribe?.();
    this.health.stop();
    this.passive.stop();
    if (this.driftTimer) clearInterval(this.driftTimer);
    await this.running?.catch(() => undefined);
    await this.driver.stop();
  }

  getStatus(): EdgeStatus {
    const p = this.driver.process;
    return {
      ...this.status,
      proxy: { running: p.running, pid: p.pid, restarts: p.restarts },
      downServers: [...this.health.down].sort(),
      checkedServers: [...this.health.checked],
      failingServers: this.passive.failing(),
      ...(this.driver.lastReload ? { lastReload: this.driver.lastReload } : {}),
      ...(this.names ? { upstreamNames: this.names.status() } : {}),
    };
  }

  /** getStatus, with the fast lane's table version as nginx's shared memory and its file hold it. */
  async getFullStatus(): Promise<EdgeStatus> {
    return {
      ...this.getStatus(),
      fastLane: await this.driver.fastLaneVersions(),
      tlsTable: await this.driver.tlsVersions(),
    };
  }

  /** Resolves when `version` (or a later one) is served, or rejects with the apply error. */
  waitFor(version: number, timeoutMs = 15_000): Promise<EdgeStatus> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.status.appliedVersion >= version) return done(() => resolve(this.getStatus()));
        const e = this.status.lastError;
        if (e && e.version >= version) return done(() => reject(new GatehouseError(e.code, e.message, 502)));
      };
      const done = (f: () => void) => {
        clearTimeout(timer);
        this.events.off('settled', check);
        f();
      };
      const timer = setTimeout(
        () =>
          done(() =>
            reject(new GatehouseError('apply_timeout', `version ${version} was not applied in time`, 504)),
          ),
        timeoutMs,
      );
      this.events.on('settled', check);
      check();
    });
  }

  /**
   * Applies now (folding into a running apply) and resolves once that apply is done; rejects (502)
   * when it failed, so a caller that waited (a certificate uploaded with `wait=true`, a challenge
   * to serve) is not told it is live while the last good config keeps serving without it.
   */
  async refresh(): Promise<EdgeStatus> {
    const before = this.status.lastError;
    this.schedule();
    await this.running;
    const e = this.status.lastError;
    if (e && e !== before)
      throw new GatehouseError(
        e.code,
        `saved, but not applied (the last good config serves): ${e.message}`,
        502,
      );
    return this.getStatus();
  }

  schedule(): void {
    if (this.stopped) return;
    this.pendingSince ??= performance.now();
    if (this.running) {
      this.dirty = true;
      return;
    }
    // Start on a timer (not setImmediate, which runs before Fastify has sent its reply): the writer
    // that triggered this gets its answer first, and writes arriving meanwhile fold into this apply.
    this.running = new Promise<void>((resolve) => setTimeout(resolve, 0))
      .then(() => this.loop())
      .finally(() => (this.running = undefined));
  }

  private async loop(): Promise<void> {
    this.status.applying = true;
    do {
      this.dirty = false;
      const t0 = performance.now();
      const applies = this.status.applies;
      await this.applyOnce();
      const took = performance.now() - t0;
      const reloaded = this.status.applies > applies && this.status.lastApplyMode === 'reload';
      // After a reload, the next apply waits until FOLD_MS have passed. An update without reload
      // costs a few ms: in a burst the next one waits three times as long as it took, so the burst
      // spends at most a quarter of the time applying (the same thread answers the writes that make
      // it), but at most DYNAMIC_FOLD_MS, so a change behind a 10,000-route apply is not held back by
      // tens of ms more; a lone change is never held back.
      const rest = reloaded ? FOLD_MS - took : Math.min(FOLD_REST * took, DYNAMIC_FOLD_MS);
      if (this.dirty && rest > 0) await new Promise((r) => setTimeout(r, rest));
    } while (this.dirty && !this.stopped);
    this.status.applying = false;
  }

  private async applyOnce(): Promise<void> {
    const version = this.registry.version;
    const t0 = performance.now();
    const wait = t0 - (this.pendingSince ?? t0);
    this.pendingSince = undefined;
    let cfg: EdgeConfig;
    try {
      const tls = this.tlsInput ? await this.tlsInput() : undefined;
      cfg = this.compiler.compile({
        services: Array.from(this.registry.state().values(), (r) =>
          this.names ? this.names.view(r.service) : r.service,
        ),
        listeners: this.listeners,
        ...(tls ? { certs: tls.certs, challenges: tls.challenges, ownHosts: tls.ownHosts ?? [] } : {}),
        ...(this.crowdsec ? { crowdsec: true } : {}),
      });
    } catch (err) {
      // A bug, not bad input (that is refused at write time): report it, keep serving, never crash.
      this.fail(
        version,
        new GatehouseError('compile_failed', `compiling the config failed: ${String(err)}`, 500),
      );
      return;
    }
    const compiled = performance.now() - t0;
    const down = this.health.down;
    const downKey = [...down].sort().join(',');
    if (cfg.hash === this.status.appliedHash && downKey === this.lastDownKey) {
      // Nothing to do for nginx (e.g. the change that failed was taken back): in sync again.
      this.status.appliedVersion = version;
      this.clearErrorUpTo(version);
      this.events.emit('settled');
      return;
    }
    try {
      const res = await this.driver.apply(cfg, down, { upstreamLog: this.upstreamLog });
      Object.assign(this.status, {
        appliedVersion: version,
        appliedHash: cfg.hash,
        generation: res.generation,
        appliedAt: new Date().toISOString(),
        lastApplyMs: res.ms,
        lastApplyMode: res.mode,
        lastApplySent: res.sent,
        lastApplyStages: { wait, compile: compiled, ...res.stages },
        applies: this.status.applies + 1,
      });
      this.lastDownKey = downKey;
      this.served = cfg;
      // The compiler hands out the same list while no host's certificate changed.
      if (cfg.tls.hosts !== this.httpsHostsOf) {
        this.httpsHostsOf = cfg.tls.hosts;
        this.httpsHosts = new Set(cfg.tls.hosts.map(([h]) => h));
      }
      this.clearErrorUpTo(version);
      this.log.info(
        { version, generation: res.generation, mode: res.mode, sent: res.sent, ms: Math.round(res.ms.total) },
        'config applied',
      );
      this.health.update(cfg);
      this.passive.update(cfg);
    } catch (err) {
      this.fail(
        version,
        err instanceof GatehouseError ? err : new GatehouseError('apply_failed', String(err), 500),
      );
      return;
    }
    this.events.emit('settled');
  }

  private fail(version: number, e: GatehouseError): void {
    this.status.lastError = { code: e.code, message: e.message, version, at: new Date().toISOString() };
    // Before the first apply there is no good config to fall back on: say so, not that one serves.
    this.log.error(
      { version, code: e.code, err: e.message },
      this.status.applies > 0
        ? 'config not applied; the last good config keeps serving'
        : 'config not applied; nginx serves nothing from Gatehouse until a config applies',
    );
    this.events.emit('settled');
  }

  /** Once the restarted nginx serves the applied generation again, the exit is history. */
  private async clearWhenBack(error: EdgeStatus['lastError']): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (!this.stopped && Date.now() < deadline && this.status.lastError === error) {
      if ((await this.driver.liveGeneration()) === this.status.generation) {
        if (this.status.lastError === error) delete this.status.lastError;
        return;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  private clearErrorUpTo(version: number): void {
    if (this.status.lastError && this.status.lastError.version <= version) delete this.status.lastError;
  }

  /**
   * A revocation the gate just wrote to its files, sent to nginx's shared memory; resolves once
   * nginx holds it. Never rejects: should nginx refuse it (memory full), it reads the files instead,
   * and the next drift check sends the whole list again.
   */
  async revoked(kind: 'r' | 'u', id: string, ms: number): Promise<void> {
    await this.driver.revocations
      .add([{ kind, id, ms }])
      .catch((err: unknown) => this.log.error({ err: String(err) }, 'could not send a revocation to nginx'));
  }

  /** Runs as an apply does (never beside one): both write the files nginx reads. */
  private checkDrift(): void {
    if (this.running || this.stopped) return;
    this.running = this.driver
      .correctDrift()
      // nginx's revocations must be the files' (one sent while nginx restarted would be missing).
      .then(async () => {
        if (await this.driver.revocations.sync())
          this.log.warn('nginx held other revocations than the gate state files; sent them again');
        // And CrowdSec's decisions the file's (nginx restarted, or a send failed).
        await this.driver.decisions.sync();
      })
      .then(
        () => undefined,
        (err: unknown) => this.log.error({ err: String(err) }, 'drift check failed'),
      )
      .finally(() => {
        this.running = undefined;
        if (this.dirty) this.schedule();
      });
  }
}
