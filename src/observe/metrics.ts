import { Counter, Gauge, Registry } from 'prom-client';

/**
 * Prometheus metrics, served at /metrics on the management API. Gauges that describe state
 * (certificates, edge) are filled at scrape time from their sources, so they are never stale.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly certExpiry = new Gauge({
    name: 'gatehouse_certificate_expiry_timestamp_seconds',
    help: 'When each certificate expires (Unix time)',
    labelNames: ['id', 'names'],
    registers: [this.registry],
  });
  readonly orderFailures = new Counter({
    name: 'gatehouse_certificate_order_failures_total',
    help: 'Certificate orders that failed',
    labelNames: ['names'],
    registers: [this.registry],
  });
  readonly securityEvents = new Gauge({
    name: 'gatehouse_security_events',
    help: 'Security events since start, by kind',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly appliedVersion = new Gauge({
    name: 'gatehouse_applied_version',
    help: 'Registry version live on the proxy',
    registers: [this.registry],
  });

  /** Sources read at scrape time. */
  private collectors: (() => Promise<void> | void)[] = [];

  onScrape(fn: () => Promise<void> | void): void {
    this.collectors.push(fn);
  }

  async text(): Promise<string> {
    for (const c of this.collectors) await c();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
