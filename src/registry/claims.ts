import { conflict, GatehouseError } from '../model/errors.js';
import type { Service } from '../model/service.js';
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
  private routes = 0;

  /** Ports the proxy or Gatehouse itself listens on, with a name for the message. */
  constructor(
    private readonly reservedPorts: Map<number, string>,
    private readonly isLocal: IsLocal = () => false,
  ) {}

  static build(services: Iterable<Service>, reservedPorts: Map<number, string>, isLocal?: IsLocal): Claims {
    const c = new Claims(reservedPorts, isLocal);
    for (const s of services) {
      const err = c.check(s);
      if (err) throw err;
      c.add(s);
    }
    return c;
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

  private checkExclusive(s: Service): GatehouseError | undefined {
    for (const [i, t] of s.tcp.entries()) {
      const reserved = this.reservedPorts.get(t.port);
      if (reserved) return conflict(`tcp.${i}.port`, `port ${t.port} is Gatehouse's ${reserved} port`);
      const owner = this.ports.get(t.port);
      if (owner !== undefined && owner !== s.name) {
        return conflict(`tcp.${i}.port`, `port ${t.port} is already routed by service ${owner}`);
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
    for (const t of s.tcp) this.ports.set(t.port, s.name);
    for (const host of s.hosts) for (const r of s.routes) this.hostPaths.set(`${host} ${r.path}`, s.name);
    this.routes += s.routes.length + s.tcp.length;
  }

  remove(s: Service): void {
    for (const t of s.tcp) if (this.ports.get(t.port) === s.name) this.ports.delete(t.port);
    for (const host of s.hosts) {
      for (const r of s.routes) {
        const key = `${host} ${r.path}`;
        if (this.hostPaths.get(key) === s.name) this.hostPaths.delete(key);
      }
    }
    this.routes -= s.routes.length + s.tcp.length;
  }
}

/** `http://IP:port/path?q` → `http://IP:port`. */
function authTarget(url: string): string {
  return /^https?:\/\/[^/?#]+/.exec(url)?.[0] ?? url;
}
