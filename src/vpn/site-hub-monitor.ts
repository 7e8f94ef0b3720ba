import { connect } from 'node:net';

/**
 * Site-to-site's hub choice in a site's connector. WireGuard routes a block to one peer of an
 * interface only, so the other sites' subnets go through ONE public edge at a time: the hub. The
 * edges come in a fixed order (by node name: the first is the primary hub, the next the fallback).
 * Every second each edge's tunnel address is probed; the hub is left after `downAfter` failed
 * probes in a row for the first edge in order that answers, and the connector goes back to an
 * edge earlier in the order once it has answered `upAfter` probes in a row (hysteresis: a flapping
 * primary does not drag the traffic back and forth).
 */
export class HubChooser {
  private order: string[] = [];
  private readonly ok = new Map<string, number>();
  private readonly fails = new Map<string, number>();
  /** The hub now; undefined with no edges. */
  active: string | undefined;

  constructor(
    readonly downAfter = 3,
    readonly upAfter = 5,
  ) {}

  /** The edges in priority order (a new config); a hub that is gone is left at once. */
  setOrder(nodes: string[]): void {
    this.order = [...nodes];
    for (const m of [this.ok, this.fails]) for (const k of m.keys()) if (!nodes.includes(k)) m.delete(k);
    if (this.active === undefined || !nodes.includes(this.active)) this.active = nodes[0];
  }

  record(node: string, alive: boolean): void {
    if (alive) {
      this.ok.set(node, (this.ok.get(node) ?? 0) + 1);
      this.fails.set(node, 0);
    } else {
      this.fails.set(node, (this.fails.get(node) ?? 0) + 1);
      this.ok.set(node, 0);
    }
  }

  private up(node: string, streak: number): boolean {
    return (this.ok.get(node) ?? 0) >= streak;
  }

  /** Applies the rules after a round of probes; returns the hub (changed or not). */
  choose(): string | undefined {
    const active = this.active;
    if (active === undefined) return undefined;
    const rank = this.order.indexOf(active);
    // Back to an edge earlier in the order once it has answered upAfter probes in a row.
    const better = this.order.slice(0, rank).find((n) => this.up(n, this.upAfter));
    if (better) return (this.active = better);
    if ((this.fails.get(active) ?? 0) < this.downAfter) return active;
    // The hub stopped answering: the first edge in order that answers now.
    const next = this.order.find((n) => n !== active && this.up(n, 1));
    if (next) this.active = next;
    return this.active;
  }
}

/** The discard port: nothing listens there, so a live edge answers a connect with a reset at once. */
const PROBE_PORT = 9;

/**
 * Whether an edge answers on its tunnel address within `timeoutMs`: a TCP connect to it through the
 * tunnel; a refusal (reset) is an answer as good as an accept. No answer: the edge, its WireGuard
 * or the path to it is down.
 */
export function probeEdge(address: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: address, port: PROBE_PORT });
    const done = (alive: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(alive);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED'));
  });
}
