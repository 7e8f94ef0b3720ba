import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { EdgeConfig } from '../../compile/edge-config.js';
import { GatehouseError } from '../../model/errors.js';
import type { GateEnv } from '../../model/session.js';
import {
  liveHash,
  NginxProcess,
  testConfig,
  untilLoaded,
  untilServing,
  type NginxCommand,
} from './process.js';
import { preparePrefix, rotateLogs } from './prefix.js';
import { renderNginx, type RenderedFiles } from './render.js';
import type { RenderEnv } from './env.js';
import { fileSize, summarize } from './error-log.js';
import { hasIPv6, systemResolvers } from './machine.js';
import { changesOf, FAST_LANE_STATE, otherSocket, tableOf } from './fast-lane.js';
import { RevocationSync } from './revocations.js';
import { DecisionSync } from './decisions.js';
import { checkModules, liveStateVersion, onlyStateDiffers } from './live-state.js';
import { TableDelivery, type TableSent } from './table-delivery.js';
import { StateJournal } from './state-journal.js';
import { currentTarget, pointCurrent, pruneGenerations, writeFiles } from './generations.js';
import { TLS_STATE } from './tls-dynamic.js';
import { LiveCertificates, withoutTlsState } from './tls-live.js';
import { driftedFiles } from './drift.js';
import type { ApplyResult, LastReload, NginxDriverOptions } from './driver-types.js';

export type { ApplyResult, LastReload, NginxDriverOptions } from './driver-types.js';

/**
 * Applies EdgeConfigs to a managed nginx: render → write a new generation directory → `nginx -t` →
 * switch the `current` symlink atomically → SIGHUP → wait until the status socket answers with the
 * new generation. A config nginx refuses never becomes `current`, so the last good one keeps
 * serving, and it is also what a restarted nginx loads.
 * When a config changes only the fast lane's table, the live generation's state file is replaced
 * and the table sent to the running nginx instead: no test, no reload (see fast-lane.ts).
 */
export class NginxDriver {
  readonly process: NginxProcess;
  private readonly cmd: NginxCommand;
  private readonly statusSocket: string;
  /** Certificate files, and the certificate table in nginx's memory. */
  private readonly certs: LiveCertificates;
  /** Revocations in nginx's shared memory (see revocations.ts). */
  readonly revocations: RevocationSync;
  /** CrowdSec's decisions in nginx's shared memory (see decisions.ts). */
  readonly decisions: DecisionSync;
  /** The fast lane's table in nginx's memory: patched, or sent whole. */
  private readonly table: TableDelivery;
  /** The live generation's state file: its base table and the patches appended since. */
  private readonly journal = new StateJournal();
  /** Files found as rendered, by their stat then (drift.ts): not read again while it holds. */
  private readonly driftVerified = new Map<string, string>();
  private files: RenderedFiles | undefined;
  private generation: string | undefined;
  private seq = 0;
  /** Applies and restarts, one after another. */
  private serial: Promise<unknown> = Promise.resolve();
  /** nginx runs with an older environment than cmd.env (see setGate). */
  private envStale = false;
  /** When nginx was last told to reload, and why (a new config, files restored, a failed one undone). */
  lastReload: LastReload | undefined;
  private readonly ipv6 = hasIPv6();
  /** The machine's DNS servers, for nginx's OCSP stapling. */
  private readonly resolvers = systemResolvers();

  constructor(private readonly opts: NginxDriverOptions) {
    const p = opts.prefix;
    this.statusSocket = join(p, 'run', 'status.sock');
    this.cmd = {
      bin: opts.bin,
      prefix: p,
      conf: join(p, 'current', 'nginx.conf'),
      errorLog: join(p, 'logs', 'error.log'),
      // Left behind by an nginx that was killed: a new one could not listen there.
      unixSockets: [this.statusSocket, otherSocket({ prefix: p })],
      env: opts.env,
    };
    this.process = new NginxProcess(this.cmd, opts.log);
    this.certs = new LiveCertificates({
      dir: () => this.tlsDir,
      statusSocket: this.statusSocket,
      log: opts.log,
      material: (id) => {
        const m = this.opts.certMaterial;
        if (!m) throw new GatehouseError('no_certificates', 'this edge has no certificate source', 500);
        return m(id);
      },
    });
    this.revocations = new RevocationSync(this.statusSocket, () => this.opts.gate?.stateDir);
    this.decisions = new DecisionSync(this.statusSocket, () => this.opts.decisionsFile);
    this.table = new TableDelivery(
      this.statusSocket,
      opts.log,
      () => this.files,
      () => this.journal.version,
    );
  }

  /**
   * An edge node learns its gate (portal host, session key) from the control plane after it starts.
   * nginx reads its environment when it starts: a key that changes (a rotation) needs a restart.
   */
  setGate(gate: GateEnv | undefined, env: Record<string, string>): void {
    this.opts.gate = gate;
    if (JSON.stringify(env) === JSON.stringify(this.cmd.env)) return;
    this.cmd.env = env;
    // A running nginx keeps the environment it started with: restartForEnv() gives it this one.
    this.envStale = this.process.running;
  }

  /**
   * Restarts nginx when its environment changed since it started (a rotated session key), once
   * no apply is under way; resolves when the new master serves the live generation again (its
   * tables come back from the state files it loads at start).
   */
  async restartForEnv(): Promise<boolean> {
    if (!this.envStale) return false;
    return this.exclusive(async () => {
      if (!this.envStale) return false;
      this.envStale = false;
      if (!this.process.running) return false;
      await this.process.restart();
      if (this.generation) await untilServing(this.statusSocket, this.generation);
      this.process.markHealthy();
      await this.syncTls();
      await this.revocations.sync();
      await this.decisions.sync();
      return true;
    });
  }

  /** Runs `fn` after every apply or restart already under way (they never overlap). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.serial.then(fn, fn);
    this.serial = next.catch(() => undefined);
    return next;
  }

  /** Where certificate files go, when that is only known after construction. */
  setTlsDir(dir: string): void {
    this.opts.tlsDir = dir;
  }

  private get tlsDir(): string {
    return this.opts.tlsDir ?? join(this.opts.prefix, 'tls');
  }

  /** The certificate table's version in nginx's shared memory and in the live state file. */
  async tlsVersions(): Promise<{ memory?: string; file?: string }> {
    return this.certs.versions(this.files?.get(TLS_STATE));
  }

  /** Sends the live certificate table when nginx's memory holds another (after a reload, a rollback, drift). */
  private syncTls(): Promise<string[]> {
    return this.certs.sync(this.files?.get(TLS_STATE), this.process.running);
  }

  get currentGeneration(): string | undefined {
    return this.generation;
  }

  async init(): Promise<void> {
    await preparePrefix(this.opts.prefix);
    this.process.reapStale(join(this.opts.prefix, 'run', 'nginx.pid'));
  }

  async apply(
    cfg: EdgeConfig,
    down?: ReadonlySet<string>,
    extra: Pick<RenderEnv, 'upstreamLog'> = {},
  ): Promise<ApplyResult> {
    return this.exclusive(() => this.applyNow(cfg, down, extra));
  }

  private async applyNow(
    cfg: EdgeConfig,
    down: ReadonlySet<string> | undefined,
    extra: Pick<RenderEnv, 'upstreamLog'>,
  ): Promise<ApplyResult> {
    const t0 = performance.now();
    const render = (generation: string) =>
      renderNginx(cfg, {
        prefix: this.opts.prefix,
        genDir: join(this.opts.prefix, 'gen', generation),
        statusSocket: this.statusSocket,
        generation,
        modulesDir: this.opts.modulesDir,
        workers: this.opts.workers,
        workerShutdownSeconds: this.opts.workerShutdownSeconds,
        ipv6: this.ipv6,
        trustedProxies: this.opts.trustedProxies,
        ...(this.opts.geoip ? { geoip: this.opts.geoip } : {}),
        ...(this.opts.decisionsFile ? { decisionsFile: this.opts.decisionsFile } : {}),
        down,
        gate: this.opts.gate,
        tlsDir: this.tlsDir,
        resolvers: this.resolvers,
        ...extra,
      });
    if (this.files && this.generation && this.process.running) {
      const dynamic = await this.applyDynamic(cfg, render(this.generation), t0);
      if (dynamic) return dynamic;
    }
    const generation = `g${Date.now().toString(36)}${(this.seq++).toString(36)}`;
    const genDir = join(this.opts.prefix, 'gen', generation);
    const files = render(generation);
    const tr = performance.now();
    checkModules(files.get('nginx.conf') ?? '');
    await this.certs.write(cfg);
    await writeFiles(genDir, files);
    const t1 = performance.now();
    const check = await testConfig(this.cmd, join(genDir, 'nginx.conf'));
    const t2 = performance.now();
    if (!check.ok) {
      await rm(genDir, { recursive: true, force: true });
      throw new GatehouseError(
        'nginx_rejected',
        `nginx refused the new config: ${summarize(check.output)}`,
        500,
      );
    }
    const previous = await currentTarget(this.opts.prefix);
    await pointCurrent(this.opts.prefix, genDir);
    try {
      await this.activate(generation);
    } catch (err) {
      if (previous) await pointCurrent(this.opts.prefix, previous);
      if (previous && this.process.running) {
        this.reload('rollback');
        // The failed reload's init may already have loaded its table into shared memory, which the
        // old workers read: the live table goes back at once, not only when the reload above lands.
        await this.table
          .putLive()
          .catch((e: unknown) =>
            this.opts.log.warn({ err: String(e) }, 'could not restore the fast lane table'),
          );
        await this.syncTls();
      }
      await rm(genDir, { recursive: true, force: true });
      throw err;
    }
    this.files = files;
    this.generation = generation;
    this.journal.reset(files.get(FAST_LANE_STATE));
    this.process.markHealthy();
    await this.table.sync();
    await this.syncTls();
    const t3 = performance.now();
    void pruneGenerations(this.opts.prefix, generation, this.opts.keepGenerations ?? 3);
    // Inside the apply (applies never overlap), so a later apply never loses a file it needs.
    await this.certs.prune(cfg);
    this.opts.log.debug({ generation, mode: 'reload' }, 'nginx config applied');
    return {
      generation: served(generation, cfg.hash),
      hash: cfg.hash,
      mode: 'reload',
      sent: 'reload',
      ms: { render: t1 - t0, test: t2 - t1, reload: t3 - t2, total: t3 - t0 },
      stages: { render: tr - t0, file: t1 - tr, send: t3 - t1 },
    };
  }

  private reload(reason: LastReload['reason']): void {
    this.process.reload();
    this.lastReload = { at: new Date().toISOString(), reason };
  }

  /**
   * The live generation rendered again for the new config: if only the fast lane's table differs,
   * the change is appended to the state file (state-journal.ts) and sent to nginx as a patch; when
   * no patch can say it, or nginx does not take it, or the appended part has grown past its bound,
   * the whole table replaces the state file (atomically) and is sent whole. Undefined when a reload
   * is needed, or when nginx did not take the table (the full path then writes it anew).
   */
  private async applyDynamic(
    cfg: EdgeConfig,
    files: RenderedFiles,
    t0: number,
  ): Promise<ApplyResult | undefined> {
    const live = this.files;
    const generation = this.generation;
    if (!live || !generation || !onlyStateDiffers(withoutTlsState(files), withoutTlsState(live)))
      return undefined;
    const state = files.get(FAST_LANE_STATE) as string;
    const t1 = performance.now();
    const genDir = join(this.opts.prefix, 'gen', generation);
    if (!(await this.certs.apply(cfg, files.get(TLS_STATE), live.get(TLS_STATE), genDir))) return undefined;
    const tc = performance.now();
    const path = join(genDir, FAST_LANE_STATE);
    // The table's version is the config's hash (render: fastLaneFiles). Not read from the text: that
    // is a string of 20,000 concatenated pieces at 10k hosts, and reading it flattens it (~5 ms).
    const version = cfg.hash;
    let update: { sent: TableSent; file: number };
    try {
      // The file first: an nginx that restarts from here on loads the new table.
      const target = { path, version, table: tableOf(files), state, changes: changesOf(files) };
      update = await this.table.update(this.journal, target, () => (this.files = files));
    } catch (err) {
      this.table.forget();
      this.opts.log.warn({ err: String(err) }, 'fast lane update not taken by nginx; reloading instead');
      return undefined;
    }
    const t3 = performance.now();
    const { sent } = update;
    const file = tc - t1 + update.file;
    this.opts.log.debug({ generation, mode: 'dynamic', sent }, 'nginx fast lane updated without reload');
    return {
      generation: served(generation, cfg.hash),
      hash: cfg.hash,
      mode: 'dynamic',
      sent,
      ms: { render: t1 - t0, test: 0, reload: t3 - t1, total: t3 - t0 },
      stages: { render: t1 - t0, file, send: t3 - t1 - file },
    };
  }

  /** The fast-lane version in nginx's shared memory and in the live state file. */
  fastLaneVersions(): Promise<{ memory?: string; file?: string }> {
    return this.table.versions();
  }

  /** Starts nginx on the current generation, or reloads it; resolves once the generation answers. */
  private async activate(generation: string): Promise<void> {
    const errLog = this.cmd.errorLog;
    const offset = fileSize(errLog);
    if (this.process.running) this.reload('config');
    else await this.process.start();
    await untilLoaded(this.statusSocket, generation, this.process, errLog, offset);
  }

  /** Compares the files on disk with what was rendered; rewrites and reloads when they differ. */
  async correctDrift(): Promise<string[]> {
    if (!this.files || !this.generation) return [];
    const genDir = join(this.opts.prefix, 'gen', this.generation);
    const drifted = await driftedFiles(
      this.opts.prefix,
      genDir,
      this.files,
      () => this.journal.text(),
      this.driftVerified,
    );
    if (drifted.length === 0) {
      // The table in shared memory must be the file's (someone may have written to the endpoint).
      // Likewise the certificate table.
      const tls = await this.syncTls();
      const { memory, file } = await this.fastLaneVersions();
      if (!this.process.running || memory === undefined || memory === file) return tls;
      this.opts.log.warn({ memory, file }, 'nginx fast lane changed behind Gatehouse; restoring it');
      await this.table.putLive();
      return [...tls, 'fast lane'];
    }
    this.opts.log.warn({ files: drifted }, 'nginx config changed behind Gatehouse; restoring it');
    await writeFiles(genDir, this.files);
    this.journal.reset(this.files.get(FAST_LANE_STATE));
    await pointCurrent(this.opts.prefix, genDir);
    if (this.process.running) this.reload('drift');
    return drifted;
  }

  /** Rotates nginx's logs that grew past `maxBytes` (see prefix.ts); returns the rotated names. */
  rotateLogs(maxBytes: number): Promise<string[]> {
    const pid = this.process.pid;
    if (!pid || !this.process.running) return Promise.resolve([]);
    return rotateLogs(this.opts.prefix, pid, maxBytes);
  }

  /** What the running nginx serves (as ApplyResult.generation); undefined while it does not answer. */
  async liveGeneration(): Promise<string | undefined> {
    const generation = await liveHash(this.statusSocket);
    const table = generation && (await liveStateVersion(this.statusSocket));
    return generation && table ? served(generation, table) : undefined;
  }

  async stop(): Promise<void> {
    await this.process.stop();
  }
}

/** A config generation and a fast-lane table version: together, what nginx serves. */
function served(generation: string, tableVersion: string): string {
  return `${generation}.${tableVersion.slice(0, 12)}`;
}
