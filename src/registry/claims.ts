import { conflict, GatehouseError } from '../model/errors.js';
import type { Service, ServiceRecord } from '../model/service.js';
import { parseEndpoint } from '../model/values.js';

/** Is this IP one of this machine's own (loopback, unspecified, or an interface address)? */
export type IsLocal = (ip: string) => boolean;

/**
 * What services claim exclusively: a host + path pair and a TCP port. Kept as an index so a write is
 * checked against the whole registry in O(its own claims), not O(registry).
 */
export class Claims {
  private readonly hostPaths = new Map<string, string>();
  private readonly ports = new Map<number, string>();
  /** TLS passthrough shares a port by SNI name: "port name" → service, and who uses each port. */
  private readonly sni = new Map<string, string>();
  private readonly sniPorts = new Map<number, Map<string, number>>();
  /** Host → number of routes on it: which hosts Gatehouse serves (for redirect checks). */
  private readonly hosts = new Map<string, number>();
  private routes = 0;

  /** Ports and host names the proxy or Gatehouse itself uses, with a name for the message. */
  constructor(
    private readonly reservedPorts: Map<number, string>,
    private readonly isLocal: IsLocal = () => false,
    private readonly reservedHosts: ReadonlyMap<string, string> = new Map(),
  ) {}

  static build(
    services: Iterable<Service>,
    reservedPorts: Map<number, string>,
    isLocal?: IsLocal,
    reservedHosts?: ReadonlyMap<string, string>,
  ): Claims {
    const c = new Claims(reservedPorts, isLocal, reservedHosts);
    for (const s of services) {
      const err = c.check(s);
      if (err) throw err;
      c.add(s);
    }
    return c;
  }

  /**
   * The claim index after `changes` to `state`, or the conflict that forbids them. One change (the
   * common case) is checked incrementally in this index, with an undo for when the write fails later
   * on; several are checked by building the whole next index.
   */
  after(
    changes: [string, ServiceRecord | undefined][],
    state: {
      view(name: string): ServiceRecord | undefined;
      entries(): Iterable<[string, ServiceRecord | undefined]>;
    },
  ): { claims: Claims; undo: () => void } {
    if (changes.length === 1) {
      const [name, rec] = changes[0] as [string, ServiceRecord | undefined];
      const before = state.view(name)?.service;
      if (before) this.remove(before);
      const err = rec ? this.check(rec.service) : undefined;
      if (err) {
        if (before) this.add(before);
        throw err;
      }
      if (rec) this.add(rec.service);
      const undo = () => {
        if (rec) this.remove(rec.service);
        if (before) this.add(before);
      };
      return { claims: this, undo };
    }
    const next = new Map<string, ServiceRecord>();
    for (const [name, rec] of state.entries()) if (rec) next.set(name, rec);
    for (const [name, rec] of changes) {
      if (rec) next.set(name, rec);
      else next.delete(name);
    }
    const claims = Claims.build(
      [...next.values()].map((r) => r.service),
      this.reservedPorts,
      this.isLocal,
      this.reservedHosts,
    );
    return { claims, undo: () => undefined };
  }

  get routeCount(): number {
    return this.routes;
  }

  /** The first claim of `s` that another service (or Gatehouse itself) already holds. */
  check(s: Service): GatehouseError | undefined {
    return this.checkSelfTargets(s) ?? this.checkExclusive(s);
  }

  /**
   * No upstream may be one of Gatehouse's own listeners on this machine: the proxy would loop into
   * itself, or let anyone reach the registration or management API with a local source address.
   */
  private checkSelfTargets(s: Service): GatehouseError | undefined {
    const targets: [string, string, boolean][] = [];
    s.routes.forEach((r, i) => {
      r.upstreams.forEach((u, k) => targets.push([`routes.${i}.upstreams.${k}`, u, true]));
      if (r.access?.forward_auth)
        targets.push([`routes.${i}.access.forward_auth.url`, authTarget(r.access.forward_auth.url), true]);
    });
    if (s.access?.forward_auth)
      targets.push(['access.forward_auth.url', authTarget(s.access.forward_auth.url), true]);
    s.tcp.forEach((t, i) =>
      t.upstreams.forEach((u, k) => targets.push([`tcp.${i}.upstreams.${k}`, u, false])),
    );
    for (const [field, raw, http] of targets) {
      const ep = parseEndpoint(raw, http);
      if (typeof ep === 'string') continue;
      const own = this.reservedPorts.get(ep.port);
      if (own && this.isLocal(ep.host))
        return conflict(field, `${raw} is Gatehouse's own ${own} port on this machine`);
    }
    return undefined;
  }

  /** Whether some service routes HTTP for this host, itself or through a wildcard. */
  servesHost(host: string): boolean {
    if ((this.hosts.get(host) ?? 0) > 0) return true;
    const dot = host.indexOf('.');
    return dot > 0 && (this.hosts.get(`*${host.slice(dot)}`) ?? 0) > 0;
  }

  private checkExclusive(s: Service): GatehouseError | undefined {
    for (const [i, host] of s.hosts.entries()) {
      const own = this.reservedHosts.get(host);
      if (own) return conflict(`hosts.${i}`, `${host} is Gatehouse's ${own}`);
    }
    for (const [i, t] of s.tcp.entries()) {
      const reserved = this.reservedPorts.get(t.port);
      if (reserved) return conflict(`tcp.${i}.port`, `port ${t.port} is Gatehouse's ${reserved} port`);
      const owner = this.ports.get(t.port);
      if (owner !== undefined && owner !== s.name) {
        return conflict(`tcp.${i}.port`, `port ${t.port} is already routed by service ${owner}`);
      }
      if (t.tls === 'terminate') {
        // Ending TLS with a name's certificate is for that name's own service (or a name no HTTP
        // route uses): else another service's or the portal's certificate would front this port.
        const name = t.sni?.[0] ?? '';
        const own = this.reservedHosts.get(name);
        if (own) return conflict(`tcp.${i}.sni.0`, `${name} is Gatehouse's ${own}`);
        if (this.servesHost(name) && !s.hosts.includes(name) && (this.hosts.get(name) ?? 0) > 0) {
          return conflict(`tcp.${i}.sni.0`, `${name} is another service's host`);
        }
      }
      if (t.tls === 'passthrough') {
        for (const [k, name] of (t.sni ?? []).entries()) {
          const o = this.sni.get(`${t.port} ${name}`);
          if (o !== undefined && o !== s.name) {
            return conflict(
              `tcp.${i}.sni.${k}`,
              `${name} on port ${t.port} is already routed by service ${o}`,
            );
          }
        }
      } else {
        const sharers = [...(this.sniPorts.get(t.port)?.keys() ?? [])].filter((n) => n !== s.name);
        if (sharers.length > 0) {
          return conflict(
            `tcp.${i}.port`,
            `port ${t.port} passes TLS through for service ${sharers[0] as string}`,
          );
        }
      }
    }
    for (const host of s.hosts) {
      for (const [i, r] of s.routes.entries()) {
        const owner = this.hostPaths.get(`${host} ${r.path}`);
        if (owner !== undefined && owner !== s.name) {
          return conflict(`routes.${i}.path`, `${host}${r.path} is already claimed by service ${owner}`);
        }
      }
    }
    return undefined;
  }

  add(s: Service): void {
    for (const t of s.tcp) {
      if (t.tls !== 'passthrough') {
        this.ports.set(t.port, s.name);
        continue;
      }
      for (const name of t.sni ?? []) this.sni.set(`${t.port} ${name}`, s.name);
      const users = this.sniPorts.get(t.port) ?? new Map<string, number>();
      users.set(s.name, (users.get(s.name) ?? 0) + 1);
      this.sniPorts.set(t.port, users);
    }
    for (const host of s.hosts) {
      // A joined key is one flat string; a template's is a tree of concatenations, kept as long as the claim.
      for (const r of s.routes) this.hostPaths.set([host, ' ', r.path].join(''), s.name);
      if (s.routes.length > 0) this.hosts.set(host, (this.hosts.get(host) ?? 0) + s.routes.length);
    }
    this.routes += s.routes.length + s.tcp.length;
  }

  remove(s: Service): void {
    for (const t of s.tcp) {
      if (t.tls !== 'passthrough') {
        if (this.ports.get(t.port) === s.name) this.ports.delete(t.port);
        continue;
      }
      for (const name of t.sni ?? []) {
        if (this.sni.get(`${t.port} ${name}`) === s.name) this.sni.delete(`${t.port} ${name}`);
      }
      const users = this.sniPorts.get(t.port);
      const n = (users?.get(s.name) ?? 0) - 1;
      if (users && n > 0) users.set(s.name, n);
      else users?.delete(s.name);
      if (users && users.size === 0) this.sniPorts.delete(t.port);
    }
    for (const host of s.hosts) {
      for (const r of s.routes) {
        const key = `${host} ${r.path}`;
        if (this.hostPaths.get(key) === s.name) this.hostPaths.delete(key);
      }
      const n = (this.hosts.get(host) ?? 0) - s.routes.length;
      if (n > 0) this.hosts.set(host, n);
      else this.hosts.delete(host);
    }
    this.routes -= s.routes.length + s.tcp.length;
  }
}

/** `http://IP:port/path?q` → `http://IP:port`. */
function authTarget(url: string): string {
  return /^https?:\/\/[^/?#]+/.exec(url)?.[0] ?? url;
}

/**
 * nginx -t does not bind ports, so a TCP route on a port another program holds would only fail at
 * reload, and keep every later change from reaching the proxy. Refuse it here instead.
 */
export async function checkNewPorts(
  probe: ((port: number) => Promise<boolean>) | undefined,
  state: Iterable<[string, ServiceRecord | undefined]>,
  changes: [string, ServiceRecord | undefined][],
): Promise<void> {
  if (!probe || !changes.some(([, rec]) => rec?.service.tcp.length)) return;
  const held = new Set<number>();
  for (const [, r] of state) for (const t of r?.service.tcp ?? []) held.add(t.port);
  for (const [, rec] of changes) {
    for (const [i, t] of (rec?.service.tcp ?? []).entries()) {
      if (!held.has(t.port) && !(await probe(t.port))) {
        throw conflict(`tcp.${i}.port`, `port ${t.port} is in use by another program on this machine`);
      }
    }
  }
}
