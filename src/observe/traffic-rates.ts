import type { TrafficMetrics } from './traffic-export.js';

type Totals = Map<string, { requests: number; errors: number }>;

/** Snapshots kept at least this far apart: enough for a rule looked at every few seconds. */
const MIN_STEP_MS = 10_000;
/** At most this many snapshots, whatever the window (a 24 h window: one a minute or so). */
const MAX_SNAPSHOTS = 1500;

/**
 * Requests and server errors (5xx) per service over a recent window, from the traffic counters of
 * every node (the error-rate alert rule, docs/alerts.md). The counters only grow, so a window's
 * figures are the difference between now and a snapshot taken a window ago; snapshots are taken
 * when asked (the alert engine asks every few seconds, on the leader only) and kept for the longest
 * window asked for. A service whose counters started again (its edge restarted) counts from zero.
 */
export class TrafficRates {
  private snapshots: { at: number; totals: Totals }[] = [];
  private horizonMs = 0;

  constructor(
    private readonly metrics: TrafficMetrics,
    private readonly now: () => number = Date.now,
  ) {}

  rates(windowMs: number): Totals {
    const at = this.now();
    this.horizonMs = Math.max(windowMs, MIN_STEP_MS);
    const current = this.metrics.totalsByService();
    const step = Math.max(MIN_STEP_MS, Math.ceil(this.horizonMs / MAX_SNAPSHOTS));
    const last = this.snapshots.at(-1);
    if (!last || at - last.at >= step) this.snapshots.push({ at, totals: current });
    // Keep one snapshot at or before the window's start; drop the older ones.
    const from = at - this.horizonMs;
    while (this.snapshots.length > 1 && (this.snapshots[1]?.at ?? Infinity) <= from) this.snapshots.shift();
    const base = this.snapshots[0]?.totals ?? current;
    const out: Totals = new Map();
    for (const [service, now] of current) {
      const then = base.get(service);
      const restarted = !then || now.requests < then.requests || now.errors < then.errors;
      const requests = restarted ? now.requests : now.requests - then.requests;
      const errors = restarted ? now.errors : now.errors - then.errors;
      if (requests > 0) out.set(service, { requests, errors });
    }
    return out;
  }
}
