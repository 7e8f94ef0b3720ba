import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { Compiler } from '../compile/incremental.js';
import type { EdgeConfig, TunnelSection } from '../compile/edge-config.js';
import type { PreviousSessionKey } from '../model/session.js';
import type { CertRef } from '../model/tls.js';
import type { Logger } from '../observe/log.js';
import type { Registry } from '../registry/registry.js';
import type { UpstreamNames } from '../dns/upstream-names.js';
import { readState } from './gate-state.js';
import { sealForNode } from './transit.js';

/** What the control plane sends an edge node: everything it needs to serve on its own. */
export interface EdgeFeedBody {
  /** Registry version the config was compiled from. */
  version: number;
  /** Identity of the whole body: the edge sends it back as `have`. */
  hash: string;
  config: EdgeConfig;
  gate: {
    portalHost?: string;
    cookie: string;
    /** The gate's state files (revocations, sign-in availability, link admissions) to mirror. */
    state: GateState;
  };
  /** `sealForNode` of FeedSecrets: readable only with the node's token. */
  sealed: string;
  /** CrowdSec's decisions as nginx takes them (decisions.ts), when the config enforces them. */
  decisions?: string;
}

export interface GateState {
  /** Random per control-plane process: a restarted one starts counting again. */
  epoch: string;
  /** Counts up whenever the files change. */
  seq: number;
  hash: string;
  files: [path: string, content: string][];
}

export interface FeedSecrets {
  sessionKey: string;
  /** After a session-key rotation: the previous key, verifying until its time is up. */
  previousSessionKey?: PreviousSessionKey;
  /** Certificate and key by certificate id, for the certificates the config names. */
  certs: Record<string, { cert: string; key: string }>;
}

export interface EdgeFeedOptions {
  registry: Registry;
  listeners: { http: number; https: number };
  tlsInput: () => Promise<{ certs: CertRef[]; challenges: ReadonlyMap<string, string>; ownHosts: string[] }>;
  certMaterial: (id: string) => Promise<{ cert: string; key: string }>;
  gate: {
    stateDir: string;
    sessionKey: string;
    previousSessionKey?: PreviousSessionKey;
    portalHost?: string;
    cookie: string;
  };
  log: Logger;
  /** Resolves the DNS names in upstreams: services are compiled with their addresses. */
  names?: UpstreamNames;
  /** CrowdSec's decisions (src/gate/crowdsec.ts): enforced on every edge while this is set. */
  decisions?: () => { version: string; text: string };
}

/** A file-system event usually comes in pairs (a temp file, its rename): one wake-up for both. */
const WATCH_DEBOUNCE_MS = 3;

/**
 * The control plane's side of edge nodes: builds each role's body (config compiled for what the
 * role serves, the gate's state, sealed secrets) and wakes long-polls when any of it changes: a
 * registry write, a certificate or ACME challenge (via `signal`), or a gate state file (watched).
 */
export class EdgeFeed {
  private readonly events = new EventEmitter();
  private watcher: FSWatcher | undefined;
  private watchTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private state: GateState = { epoch: randomBytes(6).toString('hex'), seq: 0, hash: '', files: [] };
  private stateRead: Promise<GateState> | undefined;
  private stateDirty = true;
  private stopped = false;
  /** Counts every change signalled: a long-poll compares it to see whether it missed one. */
  private changes = 0;
  /** Compiled configs by role, valid for one (registry version, TLS input) pair. */
  private readonly configs = new Map<string, { key: string; config: EdgeConfig }>();
  /** One compiler per role: each compiles only the services that changed since its last config. */
  private readonly compilers = new Map<string, Compiler>();
  /** WireGuard sites per role (src/vpn): part of each body, and of its identity. */
  private tunnel: ((role: string) => Promise<TunnelSection | undefined>) | undefined;
  /** What each node last reported as applied, for `settled`. */
  private readonly applied = new Map<string, { role: string; hash: string; at: number }>();

  constructor(private readonly o: EdgeFeedOptions) {
    this.events.setMaxListeners(0);
  }

  start(): void {
    this.unsubscribe = this.o.registry.onChange(() => this.signal());
    try {
      this.watcher = watch(this.o.gate.stateDir, { recursive: true }, () => {
        this.stateDirty = true;
        if (this.watchTimer) return;
        this.watchTimer = setTimeout(() => {
          this.watchTimer = undefined;
          this.signal();
        }, WATCH_DEBOUNCE_MS);
      });
      this.watcher.on('error', (err) => this.o.log.warn({ err: String(err) }, 'gate state watch failed'));
    } catch (err) {
      this.o.log.warn(
        { err: String(err) },
        'cannot watch the gate state; edges learn of it with the next change',
      );
    }
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    this.watcher?.close();
    if (this.watchTimer) clearTimeout(this.watchTimer);
    this.signal();
  }

  /** Where each role's WireGuard sites come from (call `signal` when they change). */
  setTunnel(fn: (role: string) => Promise<TunnelSection | undefined>): void {
    this.tunnel = fn;
    this.signal();
  }

  /** A rotated session key: every edge gets it (and the previous one) in its next body. */
  setSessionKey(key: string, previous: PreviousSessionKey | undefined): void {
    this.o.gate.sessionKey = key;
    if (previous) this.o.gate.previousSessionKey = previous;
    else delete this.o.gate.previousSessionKey;
    this.signal();
  }

  /** Something edges serve changed: wake their long-polls. */
  signal(): void {
    this.changes++;
    this.events.emit('change');
  }

  /** The change counter now: pass it to `changedSince` after looking at the state. */
  get mark(): number {
    return this.changes;
  }

  /** Resolves at the first change after `mark` (at once if one already happened), or after `ms`. */
  changedSince(mark: number, ms: number): Promise<void> {
    if (this.stopped || this.changes !== mark) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.events.off('change', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.events.on('change', done);
    });
  }

  /**
   * The gate state as it is on disk (read again only after a change). A read that fails or finds
   * more files than it may send keeps the last state: a partial list would delete revocations on
   * the edges, which would let revoked sessions pass there.
   */
  async gateState(): Promise<GateState> {
    if (!this.stateDirty && !this.stateRead) return this.state;
    if (this.stateRead) return this.stateRead;
    this.stateDirty = false;
    this.stateRead = readState(this.o.gate.stateDir)
      .then(
        (files) => {
          const hash = createHash('sha256').update(JSON.stringify(files)).digest('hex');
          if (hash !== this.state.hash) this.state = { ...this.state, seq: this.state.seq + 1, hash, files };
          return this.state;
        },
        (err: unknown) => {
          this.stateDirty = true;
          this.o.log.error({ err: String(err) }, 'gate state not read; edges keep the last one');
          return this.state;
        },
      )
      .finally(() => {
        this.stateRead = undefined;
      });
    return this.stateRead;
  }

  /** The gate's state after a change the caller just made (waits out a read that began before it). */
  async freshState(): Promise<GateState> {
    await this.stateRead;
    this.stateDirty = true;
    const before = this.state.seq;
    const s = await this.gateState();
    if (s.seq !== before) this.signal();
    return s;
  }

  /** The config a node of `role` serves: a public edge what is exposed publicly, a LAN edge what is exposed to the LAN. */
  async config(role: string): Promise<EdgeConfig> {
    return withTunnel(await this.compiled(role), await this.tunnel?.(role));
  }

  private async compiled(role: string): Promise<EdgeConfig> {
    const tls = await this.o.tlsInput();
    const key = [
      this.o.registry.version,
      this.o.names?.version ?? 0,
      ...tls.certs.map((c) => `${c.id}/${c.fingerprint}/${c.notAfter}`),
      ...[...tls.challenges.keys()],
      ...tls.ownHosts,
    ].join(' ');
    const cached = this.configs.get(role);
    if (cached?.key === key) return cached.config;
    let compiler = this.compilers.get(role);
    if (!compiler) this.compilers.set(role, (compiler = new Compiler()));
    const config = compiler.compile({
      services: [...this.o.registry.state().values()]
        .map((r) => (this.o.names ? this.o.names.view(r.service) : r.service))
        .filter((s) => (s.expose ?? 'both') === 'both' || s.expose === role),
      // Each edge listens on its own ports; HTTPS is on wherever certificates exist, even when the
      // control plane itself serves no HTTPS.
      listeners: { http: this.o.listeners.http, https: this.o.listeners.https || 443 },
      certs: tls.certs,
      challenges: tls.challenges,
      ownHosts: tls.ownHosts,
      crowdsec: !!this.o.decisions,
    });
    this.configs.set(role, { key, config });
    return config;
  }

  /** Link admissions of services this role does not serve stay off its edges (names, addresses). */
  private stateFor(config: EdgeConfig, state: GateState): GateState {
    const served = servedBy(config);
    const files = state.files.filter(([p]) => !p.startsWith('l/') || served.has(p.split('/')[1] ?? ''));
    return files.length === state.files.length ? state : { ...state, files };
  }

  private identity(config: EdgeConfig, state: GateState): string {
    const { portalHost, cookie, sessionKey, previousSessionKey: prev } = this.o.gate;
    return createHash('sha256')
      .update(
        `${config.hash} ${config.tunnel?.hash ?? ''} ${state.epoch} ${state.hash} ${portalHost ?? ''} ${cookie} `,
      )
      .update(this.o.decisions?.().version ?? '')
      .update(
        createHash('sha256')
          .update(`${sessionKey} ${prev ? `${prev.until} ${prev.key}` : ''}`)
          .digest('hex'),
      )
      .digest('hex');
  }

  /** The whole body for a node; `hash` changes whenever anything in it does. */
  async body(role: string, nodeTokenHash: string): Promise<EdgeFeedBody> {
    const version = this.o.registry.version;
    const config = await this.config(role);
    const state = this.stateFor(config, await this.gateState());
    const certs: FeedSecrets['certs'] = {};
    for (const c of config.tls.certs) certs[c.id] = await this.o.certMaterial(c.id);
    const { sessionKey, previousSessionKey } = this.o.gate;
    const secrets: FeedSecrets = { sessionKey, ...(previousSessionKey ? { previousSessionKey } : {}), certs };
    const { portalHost, cookie } = this.o.gate;
    const decisions = this.o.decisions?.();
    return {
      version,
      hash: this.identity(config, state),
      config,
      gate: { ...(portalHost ? { portalHost } : {}), cookie, state },
      sealed: sealForNode(nodeTokenHash, secrets),
      ...(decisions ? { decisions: decisions.text } : {}),
    };
  }

  /** The identity a node holding the current body would send as `have` (cheap: no sealing). */
  async currentHash(role: string): Promise<string> {
    // The identity covers the state's epoch and hash, which the per-role filter keeps as they are.
    return this.identity(await this.config(role), await this.gateState());
  }

  /** A node reported what it applied (the body hash). */
  reported(node: string, role: string, hash: string): void {
    this.applied.set(node, { role, hash, at: Date.now() });
    this.events.emit('reported', node);
  }

  /** Called with a node's name after it reported what it applied (the web UI's live node list). */
  onReported(fn: (node: string) => void): () => void {
    this.events.on('reported', fn);
    return () => this.events.off('reported', fn);
  }

  /** A node was removed: its long-poll wakes (and is refused). */
  forget(node: string): void {
    this.applied.delete(node);
    this.signal();
  }

  /**
   * Resolves once every node heard from in the last minute has applied the current body (or after
   * `ms`): an ACME HTTP-01 answer must be live on the public edges before the CA is asked to look.
   */
  async settled(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (;;) {
      const active = [...this.applied.values()].filter((a) => Date.now() - a.at < 60_000);
      const current = new Map<string, string>();
      let all = true;
      for (const a of active) {
        if (!current.has(a.role)) current.set(a.role, await this.currentHash(a.role));
        if (a.hash !== current.get(a.role)) all = false;
      }
      if (all) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.events.off('reported', done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(left, 1000));
        this.events.on('reported', done);
      });
    }
  }
}

/** The services a config serves: made once per config, not for every node's long-poll. */
const servedSets = new WeakMap<EdgeConfig, Set<string>>();

function servedBy(config: EdgeConfig): Set<string> {
  let served = servedSets.get(config);
  if (!served) {
    served = new Set(config.sites.flatMap((s) => s.routes.map((r) => r.service)));
    servedSets.set(config, served);
  }
  return served;
}

/** A compiled config with its role's tunnel section: one object per pair, so its JSON is made once. */
const tunnelled = new WeakMap<EdgeConfig, WeakMap<TunnelSection, EdgeConfig>>();

function withTunnel(config: EdgeConfig, tunnel: TunnelSection | undefined): EdgeConfig {
  if (!tunnel || tunnel.peers.length === 0) return config;
  let by = tunnelled.get(config);
  if (!by) tunnelled.set(config, (by = new WeakMap()));
  let out = by.get(tunnel);
  if (!out) by.set(tunnel, (out = { ...config, tunnel }));
  return out;
}
