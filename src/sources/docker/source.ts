import Docker from 'dockerode';
import { GatehouseError } from '../../model/errors.js';
import type { Service } from '../../model/service.js';
import type { Logger } from '../../observe/log.js';
import { Claims } from '../../registry/claims.js';
import type { Registry } from '../../registry/registry.js';
import { dockerOptions, listRunning, parseEvent, readRunning, WATCHED_EVENTS } from './client.js';
import { hasOurLabels, type ContainerFacts } from './facts.js';
import { ContainerNames } from './container-names.js';
import { parseContainer, type Problem } from './labels.js';
import type { DockerContainerStatus, Source, SourceStatuses } from '../source.js';

export interface DockerSourceOptions {
  /** docker_endpoint: `unix:///var/run/docker.sock` or `tcp://host:port`. */
  endpoint: string;
  /** docker_network: whose address to use for containers on several networks. */
  network?: string;
  /** Sources `gatehouse.access=vpn-only` admits (vpn_only_sources, vpn_only_extra). */
  vpnOnly?: string[];
  /** docker_resync_interval, in ms: a full look at every container, for anything an event missed. */
  resyncMs: number;
  registry: Registry;
  log: Logger;
  /** Told when a container's problems change to a non-empty list (an ops event, say). */
  onProblems?: (container: string, problems: Problem[]) => void;
  /** Reconnect delays: the first, and the most it grows to. */
  backoffMs?: { min: number; max: number };
  /** Timeout of each Engine API call (not of the event stream). */
  callTimeoutMs?: number;
}

/**
 * Docker as a source: each running container that opts in through labels owns the services its
 * labels describe (owner = container name, which a compose recreate keeps). Events bring changes in
 * at once; a full resync at every (re)connection and every `resyncMs` catches what events missed.
 * While the daemon is away, what it last published stays as it is; the source reconnects with backoff.
 * One container's bad labels or conflicts are its own: reported in its status, never anyone else's.
 */
export class DockerSource implements Source {
  readonly name = 'docker';
  private readonly calls: Docker;
  private readonly events: Docker;
  private stopped = false;
  private connected = false;
  private lastSync: string | undefined;
  private lastError: string | undefined;
  private stream: NodeJS.ReadableStream | undefined;
  private loop: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private resyncing: Promise<void> | undefined;
  private readonly containers = new Map<string, DockerContainerStatus>();
  /** Per container name: writes run one at a time, in order. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly pendingRead = new Set<string>();
  /** Reads are numbered; a write based on an older read than the last applied one is skipped. */
  private readSeq = 0;
  private readonly appliedSeq = new Map<string, number>();
  /** Running containers by name and compose service: upstreams may name them (upstream-names.ts). */
  readonly names: ContainerNames;

  constructor(private readonly opts: DockerSourceOptions) {
    this.names = new ContainerNames(opts.network);
    const conn = dockerOptions(opts.endpoint);
    this.calls = new Docker({ ...conn, timeout: opts.callTimeoutMs ?? 10_000 });
    // The event stream is quiet for hours at a time: no timeout on it.
    this.events = new Docker(conn);
  }

  /** Starts watching in the background: Gatehouse starts whether or not the daemon is there. */
  async start(): Promise<void> {
    this.loop = this.run();
    this.timer = setInterval(() => {
      if (this.connected) void this.resync().catch((err: unknown) => this.lost(err));
    }, this.opts.resyncMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.closeStream();
    this.wake?.();
    // A call to an unreachable TCP endpoint may hang until its timeout; nothing it brings back is
    // applied once stopped, so do not hold the shutdown for it.
    await Promise.race([this.loop, new Promise((r) => setTimeout(r, 2000).unref())]);
    await Promise.all([...this.chains.values()]);
  }

  status(): SourceStatuses {
    return {
      docker: {
        endpoint: this.opts.endpoint,
        connected: this.connected,
        ...(this.lastSync ? { lastSync: this.lastSync } : {}),
        ...(this.lastError ? { lastError: this.lastError } : {}),
        containers: [...this.containers.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
      },
    };
  }

  /** Connect, follow events, resync; when the connection goes, wait and do it again. */
  private async run(): Promise<void> {
    const { min, max } = this.opts.backoffMs ?? { min: 250, max: 5000 };
    let delay = min;
    while (!this.stopped) {
      try {
        await this.session(() => (delay = min));
      } catch (err) {
        if (!this.stopped) this.lost(err);
      }
      this.connected = false;
      if (this.stopped) break;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, delay).unref();
      });
      delay = Math.min(delay * 2, max);
    }
  }

  /** One connection: subscribe first, then resync, so nothing happens unseen in between. */
  private async session(connectedNow: () => void): Promise<void> {
    await this.calls.ping();
    const stream = await this.events.getEvents({ filters: { type: ['container'], event: WATCHED_EVENTS } });
    this.stream = stream;
    const ended = new Promise<void>((resolve) => {
      stream.once('end', resolve);
      stream.once('close', resolve);
      stream.once('error', (err: unknown) => {
        this.lastError = String(err);
        resolve();
      });
    });
    let buffered = '';
    stream.on('data', (chunk: Buffer | string) => {
      buffered += chunk.toString();
      for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
        this.onEvent(buffered.slice(0, i));
        buffered = buffered.slice(i + 1);
      }
    });
    try {
      if (this.stopped) return;
      const wasDown = this.lastError !== undefined;
      this.connected = true;
      connectedNow();
      await this.resync();
      if (wasDown) this.opts.log.info({ endpoint: this.opts.endpoint }, 'docker: connected again, resynced');
      await ended;
      if (!this.stopped) throw new Error('the daemon closed the event stream');
    } finally {
      this.closeStream();
    }
  }

  private closeStream(): void {
    const s = this.stream as (NodeJS.ReadableStream & { destroy?: () => void }) | undefined;
    s?.destroy?.();
    this.stream = undefined;
  }

  private lost(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    if (this.connected || this.lastError === undefined)
      this.opts.log.warn({ endpoint: this.opts.endpoint, err: message }, 'docker: not connected; retrying');
    this.lastError = message;
    this.connected = false;
    // A resync that failed means the daemon is gone or stuck: drop the stream and reconnect.
    this.closeStream();
  }

  private onEvent(line: string): void {
    const e = parseEvent(line);
    if (!e) return;
    const owners = this.opts.registry.owners('docker');
    const known = (n: string) => this.containers.has(n) || owners.has(n);
    if (e.oldName) this.names.set(e.oldName, undefined);
    if (e.oldName && known(e.oldName)) this.refresh(e.oldName);
    if (hasOurLabels(e.attributes) || known(e.name)) this.refresh(e.name);
    // Any other container may be named by an upstream: its address is read again.
    else this.refreshName(e.name);
  }

  /** Every running container at once; owners that no longer run lose their services. */
  private resync(): Promise<void> {
    this.resyncing ??= (async () => {
      try {
        const seq = ++this.readSeq;
        const running = await listRunning(this.calls);
        if (!this.stopped) this.names.replaceAll(running);
        const names = new Set<string>();
        const work: Promise<void>[] = [];
        for (const f of running) {
          if (!hasOurLabels(f.labels) && !this.containers.has(f.name)) continue;
          names.add(f.name);
          work.push(this.enqueue(f.name, () => this.apply(f.name, f, seq)));
        }
        const had = new Set([...this.opts.registry.owners('docker'), ...this.containers.keys()]);
        for (const name of had) {
          if (name !== '' && !names.has(name))
            work.push(this.enqueue(name, () => this.apply(name, undefined, seq)));
        }
        await Promise.all(work);
        this.lastSync = new Date().toISOString();
        this.lastError = undefined;
      } finally {
        this.resyncing = undefined;
      }
    })();
    return this.resyncing;
  }

  /** Reads one container afresh and applies it; several requests while one waits become one. */
  private refresh(name: string): void {
    if (this.pendingRead.has(name)) return;
    this.pendingRead.add(name);
    void this.enqueue(name, async () => {
      this.pendingRead.delete(name);
      const seq = ++this.readSeq;
      await this.apply(name, await readRunning(this.calls, name), seq);
    });
  }

  /** Reads a container that publishes nothing, for its name and address only. */
  private refreshName(name: string): void {
    void readRunning(this.calls, name).then(
      (facts) => {
        if (!this.stopped) this.names.set(name, facts);
      },
      (err: unknown) =>
        this.opts.log.warn({ container: name, err: String(err) }, 'docker: container read failed'),
    );
  }

  private enqueue(name: string, task: () => Promise<void>): Promise<void> {
    const next = (this.chains.get(name) ?? Promise.resolve()).then(task).catch((err: unknown) => {
      this.opts.log.error({ container: name, err: String(err) }, 'docker: container sync failed');
    });
    this.chains.set(name, next);
    void next.then(() => {
      if (this.chains.get(name) === next) this.chains.delete(name);
    });
    return next;
  }

  /** Makes the registry hold exactly what `facts` (undefined: no such running container) asks for. */
  private async apply(name: string, facts: ContainerFacts | undefined, seq: number): Promise<void> {
    if (this.stopped || seq < (this.appliedSeq.get(name) ?? 0)) return;
    this.appliedSeq.set(name, seq);
    this.names.set(name, facts);
    const parsed = facts
      ? parseContainer(facts, {
          ...(this.opts.network ? { network: this.opts.network } : {}),
          ...(this.opts.vpnOnly ? { vpnOnly: this.opts.vpnOnly } : {}),
        })
      : undefined;
    const problems = [...(parsed?.problems ?? [])];
    const accepted = this.precheck(name, parsed?.services ?? [], parsed?.anchors ?? new Map(), problems);
    try {
      const res = await this.opts.registry.reconcile(accepted, {
        actor: 'docker',
        source: 'docker',
        owner: name,
        // The container's state is the truth for its own records, even when they are the last ones.
        force: true,
      });
      if (res.changed.length > 0)
        this.opts.log.info(
          { container: name, version: res.version, changed: res.changed },
          'docker: services updated',
        );
    } catch (err) {
      const message = err instanceof GatehouseError ? err.message : String(err);
      problems.push({ label: '(registry)', message: `refused, the previous services stay: ${message}` });
    }
    const services = this.opts.registry.owned('docker', name).sort();
    this.report(name, facts, services, problems);
  }

  /**
   * Drops the services the registry would refuse (a name or host + path another owner holds), so
   * the rest of the container's services still go live; each dropped one becomes a problem.
   */
  private precheck(
    owner: string,
    services: Service[],
    anchors: Map<string, string>,
    problems: Problem[],
  ): Service[] {
    if (services.length === 0) return [];
    const others = new Claims(new Map());
    for (const r of this.opts.registry.state().values()) {
      if (r.meta.source !== 'docker' || (r.meta.owner ?? '') !== owner) others.add(r.service);
    }
    const ok: Service[] = [];
    for (const s of services) {
      const label = anchors.get(s.name) ?? 'gatehouse.enable';
      const holder = this.opts.registry.get(s.name)?.meta;
      if (holder && (holder.source !== 'docker' || (holder.owner ?? '') !== owner)) {
        const who = `${holder.source}${holder.owner ? ` (${holder.owner})` : ''}`;
        problems.push({ label, message: `service name ${s.name} belongs to ${who}: not published` });
        continue;
      }
      const err = others.check(s);
      if (err) {
        problems.push({
          label,
          message: `${err.issues[0]?.message ?? err.message}: service ${s.name} not published`,
        });
        continue;
      }
      others.add(s);
      ok.push(s);
    }
    return ok;
  }

  private report(
    name: string,
    facts: ContainerFacts | undefined,
    services: string[],
    problems: Problem[],
  ): void {
    const before = this.containers.get(name);
    if (!facts && services.length === 0) {
      this.containers.delete(name);
      return;
    }
    if (facts && services.length === 0 && problems.length === 0 && !hasOurLabels(facts.labels)) {
      this.containers.delete(name);
      return;
    }
    this.containers.set(name, { name, id: facts?.id ?? before?.id ?? '', services, problems });
    if (problems.length > 0 && JSON.stringify(problems) !== JSON.stringify(before?.problems ?? [])) {
      this.opts.log.warn({ container: name, problems }, 'docker: problems with the labels of a container');
      this.opts.onProblems?.(name, problems);
    }
  }
}
