import { z } from 'zod';
import { GatehouseError } from '../../model/errors.js';
import { serviceSchema } from '../../model/service.js';
import { durationMs, durationSchema, hostnameSchema, slugSchema } from '../../model/values.js';
import type { Logger } from '../../observe/log.js';
import type { Registry } from '../../registry/registry.js';
import type { Source, SourceStatuses } from '../source.js';

/** What `gatehouse agent` registers: one service on behalf of a VM or host that runs no Docker. */
export const agentRegisterSchema = z.strictObject({
  name: slugSchema,
  domains: z.array(hostnameSchema).min(1, 'at least one domain').max(20),
  upstreams: z.array(z.string()).min(1, 'at least one upstream').max(16),
  path: z.string().default('/'),
  /** Without a heartbeat for this long, the service goes out of rotation (offline page). */
  ttl: durationSchema.default('30s'),
});

export const agentHeartbeatSchema = z.strictObject({
  name: slugSchema,
  /** The agent's own health check of its upstream. */
  healthy: z.boolean().default(true),
});

export const agentNameSchema = z.strictObject({ name: slugSchema });

const TTL_LABEL = 'gatehouse/agent-ttl';
const MIN_TTL_MS = 2_000;
/** Replicas on one store: each agent's last heartbeat, in `meta` under this prefix + its name. */
const SEEN_PREFIX = 'agent-seen ';
const seenSchema = z.object({ at: z.number(), ttlMs: z.number().min(MIN_TTL_MS) });

interface Lease {
  ttlMs: number;
  /** Last heartbeat (or registration). */
  seenAt: number;
  healthy: boolean;
}

/**
 * Services registered by agents, each owned by its agent's name. An agent heartbeats; a service
 * whose agent is silent past its TTL, or reports its upstream unhealthy, is suspended (out of
 * rotation: its offline page answers) and comes back with the next good heartbeat; silent past the
 * grace period, it is removed. After a control-plane restart every agent gets a fresh TTL.
 */
export class AgentLeases implements Source {
  readonly name = 'agent';
  private readonly leases = new Map<string, Lease>();
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;
  private swept = false;

  constructor(
    private readonly registry: Registry,
    private readonly graceMs: number,
    private readonly log: Logger,
    /** Among replicas only the leader sweeps; one that comes to lead gives every agent a fresh TTL. */
    private readonly leading: () => boolean = () => true,
    /**
     * Replicas share the store (PostgreSQL): heartbeats are kept there too, so the leader sees those
     * another replica took, and sweeps the services agents registered there.
     */
    private readonly shared = false,
  ) {}

  async start(): Promise<void> {
    const now = Date.now();
    for (const r of this.registry.list()) {
      if (r.meta.source !== 'agent') continue;
      const ttlMs = labelTtl(r.service.labels);
      this.leases.set(r.service.name, { ttlMs, seenAt: now, healthy: !r.service.suspended });
    }
    this.timer = setInterval(() => void this.sweep(), 500);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
  }

  /** Its services (in rotation or not) show with the others; nothing of its own in status. */
  status(): SourceStatuses {
    return {};
  }

  private meta(name: string) {
    return { actor: `agent:${name}`, source: 'agent' as const, owner: name };
  }

  async register(
    input: z.output<typeof agentRegisterSchema>,
  ): Promise<{ created: boolean; version: number }> {
    const ttlMs = Math.max(MIN_TTL_MS, durationMs(input.ttl));
    const candidate = {
      name: input.name,
      hosts: input.domains,
      routes: [{ path: input.path, upstreams: input.upstreams }],
      labels: { [TTL_LABEL]: String(ttlMs) },
    };
    const parsed = serviceSchema.safeParse(candidate);
    if (!parsed.success) {
      // Name the agent's own fields: `domains`, `upstreams`, `path`.
      const issue = parsed.error.issues[0];
      const path = (issue?.path ?? []).map(String);
      const field =
        path[0] === 'hosts'
          ? ['domains', ...path.slice(1)].join('.')
          : path[0] === 'routes'
            ? path.slice(2).join('.') || 'path'
            : path.join('.');
      const message = issue?.message ?? 'invalid';
      throw new GatehouseError('invalid', `${field}: ${message}`, 400, [{ field, message }]);
    }
    const res = await this.registry.reconcile([parsed.data], this.meta(input.name));
    this.leases.set(input.name, { ttlMs, seenAt: Date.now(), healthy: true });
    await this.touch(input.name, ttlMs);
    return { created: res.created.length > 0, version: res.version };
  }

  async heartbeat(name: string, healthy: boolean): Promise<{ suspended: boolean }> {
    const rec = this.registry.get(name);
    const lease = this.leases.get(name);
    if (!rec || rec.meta.source !== 'agent' || !lease)
      throw new GatehouseError('not_registered', `name: no agent service ${name}; register first`, 404);
    lease.seenAt = Date.now();
    lease.healthy = healthy;
    await this.touch(name, lease.ttlMs);
    await this.setSuspended(name, !healthy);
    return { suspended: !healthy };
  }

  async deregister(name: string): Promise<void> {
    const rec = this.registry.get(name);
    if (!rec || rec.meta.source !== 'agent')
      throw new GatehouseError('not_registered', `name: no agent service ${name}`, 404);
    this.leases.delete(name);
    await this.registry.reconcile([], { ...this.meta(name), force: true });
    await this.forget(name);
  }

  /** Replicas: the heartbeat where the leader sees it (a lost one only risks an early suspension). */
  private async touch(name: string, ttlMs: number): Promise<void> {
    if (!this.shared) return;
    const key = `${SEEN_PREFIX}${name}`;
    const value = JSON.stringify({ at: Date.now(), ttlMs });
    await this.registry.db
      .insertInto('meta')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
      .execute()
      .catch((err: unknown) =>
        this.log.warn({ service: name, err: String(err) }, 'agent heartbeat not shared'),
      );
  }

  private async forget(name: string): Promise<void> {
    if (!this.shared) return;
    await this.registry.db.deleteFrom('meta').where('key', '=', `${SEEN_PREFIX}${name}`).execute();
  }

  /**
   * Replicas: the leader takes the heartbeats other replicas stored, and the agent services they
   * registered (a service with no heartbeat known gets a fresh TTL).
   */
  private async adopt(): Promise<void> {
    const rows = await this.registry.db
      .selectFrom('meta')
      .selectAll()
      .where('key', 'like', `${SEEN_PREFIX}%`)
      .execute();
    const seen = new Map<string, z.infer<typeof seenSchema>>();
    for (const r of rows) {
      const v = seenSchema.safeParse(parseJson(r.value));
      if (v.success) seen.set(r.key.slice(SEEN_PREFIX.length), v.data);
    }
    for (const r of this.registry.list()) {
      if (r.meta.source !== 'agent') continue;
      const name = r.service.name;
      const s = seen.get(name);
      const lease = this.leases.get(name);
      if (!lease)
        this.leases.set(name, {
          ttlMs: s?.ttlMs ?? labelTtl(r.service.labels),
          seenAt: s?.at ?? Date.now(),
          healthy: !r.service.suspended,
        });
      else if (s && s.at > lease.seenAt) {
        lease.seenAt = s.at;
        lease.ttlMs = s.ttlMs;
      }
    }
  }

  private async setSuspended(name: string, suspended: boolean): Promise<void> {
    // Decided in the registry's turn: a heartbeat and the sweep may both be on their way.
    await this.registry.update(
      name,
      (svc) => {
        if (!!svc.suspended === suspended) return svc;
        const next = { ...svc };
        if (suspended) next.suspended = true;
        else delete next.suspended;
        return next;
      },
      this.meta(name),
    );
  }

  /** Suspends services whose agents fell silent, removes those silent past the grace period. */
  private async sweep(): Promise<void> {
    if (this.sweeping) return;
    const leading = this.leading();
    if (leading && !this.swept) for (const lease of this.leases.values()) lease.seenAt = Date.now();
    this.swept = leading;
    if (!leading) return;
    this.sweeping = true;
    try {
      if (this.shared)
        await this.adopt().catch((err: unknown) =>
          this.log.warn({ err: String(err) }, 'agent heartbeats from other replicas not read'),
        );
      const now = Date.now();
      for (const [name, lease] of this.leases) {
        // One failing write must not hold up every other lease.
        try {
          const rec = this.registry.get(name);
          if (!rec || rec.meta.source !== 'agent') {
            this.leases.delete(name);
            continue;
          }
          const silent = now - lease.seenAt;
          if (silent > lease.ttlMs + this.graceMs) {
            await this.registry.reconcile([], { ...this.meta(name), force: true });
            // Only once it is gone: a failed removal is tried again at the next sweep.
            if (this.leases.get(name) === lease) this.leases.delete(name);
            await this.forget(name).catch(() => undefined);
            this.log.warn({ service: name }, 'agent silent past its grace period: service removed');
          } else if (silent > lease.ttlMs && !rec.service.suspended) {
            this.log.warn({ service: name }, 'agent missed its heartbeats: service out of rotation');
            // A heartbeat may have come in while this one waited for its turn.
            if (Date.now() - lease.seenAt > lease.ttlMs) await this.setSuspended(name, true);
          }
        } catch (err) {
          this.log.error({ service: name, err: String(err) }, 'agent lease sweep failed');
        }
      }
    } finally {
      this.sweeping = false;
    }
  }
}

/**
 * The TTL a stored agent service carries. The label is ours, but a stored record can be edited by
 * hand: a bad one means the default (NaN would never expire the lease).
 */
function labelTtl(labels: Record<string, string> | undefined): number {
  const label = Number(labels?.[TTL_LABEL]);
  return Number.isFinite(label) && label >= MIN_TTL_MS ? label : 30_000;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
