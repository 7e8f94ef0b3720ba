import type { KnownNames } from '../../dns/upstream-names.js';
import type { ContainerFacts } from './facts.js';

/**
 * Running containers by the names other containers use for them (docs/upstream-names.md): an
 * upstream `authelia:9091` resolves to the container's address without Docker's embedded DNS
 * (127.0.0.11, reachable only inside container networks, not from Gatehouse on the host).
 *
 * A container answers to its name and to its compose service (`com.docker.compose.service`), with its
 * address on `docker_network` when that is set (none there: not known by that name), else on every
 * network it has an address on. A compose service name several projects use is ambiguous: not known
 * (the resolver is asked instead); replicas of one service all answer. Containers with host
 * networking are not known (their address would be the host's loopback, which a name may not reach).
 */
export class ContainerNames implements KnownNames {
  /** Per container name: the keys it answers to, its addresses, its compose project. */
  private readonly containers = new Map<string, { keys: string[]; ips: string[]; project: string }>();
  private readonly listeners = new Set<() => void>();
  private digest = '';

  constructor(private readonly network?: string) {}

  /** Every running container (a resync): those not listed are gone. */
  replaceAll(all: readonly ContainerFacts[]): void {
    this.containers.clear();
    for (const f of all) this.put(f);
    this.changed();
  }

  /** One container read afresh; undefined: it no longer runs. */
  set(name: string, facts: ContainerFacts | undefined): void {
    this.containers.delete(name);
    if (facts) this.put(facts);
    this.changed();
  }

  private put(f: ContainerFacts): void {
    if (f.networkMode === 'host') return;
    const on = f.networks.filter(
      (n) => n.ip !== '' && (this.network === undefined || n.name === this.network),
    );
    const service = f.labels['com.docker.compose.service'];
    const keys = [f.name, ...(service ? [service] : [])].map((k) => k.toLowerCase());
    this.containers.set(f.name, {
      keys: [...new Set(keys)],
      ips: [...new Set(on.map((n) => n.ip))].sort(),
      project: f.labels['com.docker.compose.project'] ?? '',
    });
  }

  /** The addresses of the container(s) called `name`; undefined when no container is. */
  lookup(name: string): string[] | undefined {
    const key = name.toLowerCase().replace(/\.$/, '');
    const exact = [...this.containers.entries()].find(([n]) => n.toLowerCase() === key);
    if (exact) return exact[1].ips;
    const matches = [...this.containers.values()].filter((c) => c.keys.includes(key));
    if (matches.length === 0) return undefined;
    if (new Set(matches.map((m) => m.project)).size > 1) return undefined;
    return [...new Set(matches.flatMap((m) => m.ips))].sort();
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Tells the listeners when what some name stands for changed. */
  private changed(): void {
    const digest = JSON.stringify([...this.containers].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    if (digest === this.digest) return;
    this.digest = digest;
    for (const fn of this.listeners) fn();
  }
}
