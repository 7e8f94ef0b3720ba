import type { AlertRules } from '../model/alert-rule.js';
import type { Condition } from './engine.js';
import type { EventSource } from './rules-events.js';

/**
 * Per-service request counts over a window, from the traffic metrics (issue 18's metrics part). The
 * error-rate rule runs only where such a source is wired in.
 */
export interface ErrorRateSource {
  rates(
    windowMs: number,
  ):
    | Map<string, { requests: number; errors: number }>
    | Promise<Map<string, { requests: number; errors: number }>>;
}

/** An edge node as the rules see it (src/edge/nodes.ts NodeView). */
export interface NodeFacts {
  name: string;
  role: string;
  last_seen: string | null;
  online: boolean;
  applied_hash: string;
  last_error: string;
  down_servers: string[];
}

/** What the rules look at: each part of Gatehouse that may be in trouble. */
export interface AlertSources {
  /** Upstream servers this process's edge finds down (`pool address`). */
  downServers(): readonly string[];
  /** Enrolled edge nodes. */
  nodes(): Promise<NodeFacts[]>;
  /** The config hash a node of `role` should hold now (the feed's). */
  expectedHash?(role: string): Promise<string>;
  /** Certificates: names and expiry. */
  certs(): Promise<{ names: string[]; notAfter: string }[]>;
  /** Certificate orders: names, state and error (the leader's CertManager). */
  orders?(): { names: string[]; state: string; error?: string }[];
  /** The last scheduled or manual backup. */
  lastBackup?(): { at: string; error?: string } | undefined;
  /** Security events in the store. */
  events: EventSource;
  errorRates?: ErrorRateSource;
}

const DAY_MS = 86_400_000;
const NODE_ONLINE_MS = 60_000;

/**
 * Every rule's conditions. Rule checks that keep memory (a failed certificate order stays failed
 * while it is retried) keep it here, for the life of the engine.
 */
export class RuleChecks {
  private readonly failedOrders = new Map<string, string>();

  constructor(private readonly s: AlertSources) {}

  async conditions(rules: AlertRules, now: number): Promise<Condition[]> {
    const out: Condition[] = [];
    const on = (r: keyof AlertRules) => rules[r].enabled;
    if (on('upstream_down')) out.push(...(await this.upstreams()));
    if (on('error_rate') && this.s.errorRates) out.push(...(await this.errorRate(rules.error_rate)));
    if (on('certificate')) out.push(...(await this.certificates(rules.certificate.days, now)));
    if (on('edge')) out.push(...(await this.edges(now)));
    if (on('tunnel_down')) out.push(...(await this.s.events.tunnelsDown(now)));
    if (on('link_used')) out.push(...(await this.s.events.linksUsed(rules.link_used.window_min, now)));
    if (on('sign_in_failures')) {
      const c = await this.s.events.signInFailures(rules.sign_in_failures, now);
      if (c) out.push(c);
    }
    if (on('backup_failed')) {
      const b = this.s.lastBackup?.();
      if (b?.error)
        out.push({
          rule: 'backup_failed',
          subject: 'backup',
          title: 'Backup failed',
          text: `The backup at ${b.at} failed: ${b.error}`,
          since: Date.parse(b.at),
        });
    }
    return out;
  }

  private async upstreams(): Promise<Condition[]> {
    const where = new Map<string, string[]>();
    for (const d of this.s.downServers()) where.set(d, ['this machine']);
    for (const n of await this.s.nodes())
      if (n.online) for (const d of n.down_servers) where.set(d, [...(where.get(d) ?? []), `edge ${n.name}`]);
    return [...where].map(([server, seen]) => {
      const [pool = '', address = server] = server.includes(' ') ? server.split(' ', 2) : ['', server];
      return {
        rule: 'upstream_down' as const,
        subject: server,
        title: `Upstream down: ${address}${pool ? ` (${pool})` : ''}`,
        text: `Upstream ${address} of ${pool || 'a service'} fails its health checks (seen from ${seen.join(', ')}).`,
      };
    });
  }

  private async errorRate(r: AlertRules['error_rate']): Promise<Condition[]> {
    const rates = await this.s.errorRates?.rates(r.window_min * 60_000);
    const out: Condition[] = [];
    for (const [service, { requests, errors }] of rates ?? []) {
      if (requests < r.min_requests) continue;
      const pct = (errors / requests) * 100;
      if (pct <= r.percent) continue;
      out.push({
        rule: 'error_rate',
        subject: service,
        title: `Error rate ${pct.toFixed(1)} % on ${service}`,
        text: `${errors} of ${requests} requests to ${service} failed (5xx) in the last ${r.window_min} min (threshold ${r.percent} %).`,
      });
    }
    return out;
  }

  private async certificates(days: number, now: number): Promise<Condition[]> {
    const out: Condition[] = [];
    const certs = await this.s.certs();
    // A name is covered when any certificate for it lives past the window (a renewal replaced it).
    const lasting = new Set(
      certs.filter((c) => Date.parse(c.notAfter) - now > days * DAY_MS).flatMap((c) => c.names),
    );
    for (const c of certs) {
      const left = Date.parse(c.notAfter) - now;
      if (left > days * DAY_MS || c.names.every((n) => lasting.has(n))) continue;
      const names = c.names.join(',');
      out.push({
        rule: 'certificate',
        subject: `expiring ${names}`,
        title: left > 0 ? `Certificate expiring: ${names}` : `Certificate expired: ${names}`,
        text:
          left > 0
            ? `The certificate for ${names} expires ${c.notAfter} (in ${Math.floor(left / DAY_MS)} days) and has no successor yet.`
            : `The certificate for ${names} expired ${c.notAfter}.`,
      });
    }
    for (const o of this.s.orders?.() ?? []) {
      const names = o.names.join(',');
      if (o.state === 'failed') this.failedOrders.set(names, o.error ?? 'the order failed');
      else if (o.state === 'issued') this.failedOrders.delete(names);
    }
    const current = new Set((this.s.orders?.() ?? []).map((o) => o.names.join(',')));
    for (const [names, error] of this.failedOrders) {
      if (!current.has(names)) {
        this.failedOrders.delete(names);
        continue;
      }
      out.push({
        rule: 'certificate',
        subject: `order ${names}`,
        title: `Certificate order failed: ${names}`,
        text: `Ordering a certificate for ${names} failed: ${error}. It is retried with backoff.`,
      });
    }
    return out;
  }

  private async edges(now: number): Promise<Condition[]> {
    const out: Condition[] = [];
    for (const n of await this.s.nodes()) {
      if (!n.last_seen) continue; // enrolled, never started: nothing to miss yet
      if (!n.online) {
        out.push({
          rule: 'edge',
          subject: n.name,
          title: `Edge offline: ${n.name}`,
          text: `Edge ${n.name} has not reported since ${n.last_seen}.`,
          since: Math.min(now, Date.parse(n.last_seen) + NODE_ONLINE_MS),
        });
        continue;
      }
      const want = await this.s.expectedHash?.(n.role);
      if (n.last_error || (want !== undefined && n.applied_hash !== want))
        out.push({
          rule: 'edge',
          subject: n.name,
          title: `Edge out of sync: ${n.name}`,
          text: n.last_error
            ? `Edge ${n.name} could not apply the current config: ${n.last_error}`
            : `Edge ${n.name} does not serve the current config yet.`,
        });
    }
    return out;
  }
}
