import { join } from 'node:path';
import { startAlerts } from './alerts/start.js';
import type { AlertService } from './alerts/service.js';
import type { EdgeFeed } from './edge/feed.js';
import type { LocalEdge } from './edge/local-edge.js';
import { NodeStore } from './edge/nodes.js';
import { LocalTraffic } from './edge/traffic-local.js';
import type { Gate } from './gate/gate.js';
import { withEdgeRefusals } from './gate/security-log.js';
import type { Lifecycle } from './lifecycle.js';
import type { AccessLogSink } from './model/access-log.js';
import { TrafficRates } from './observe/traffic-rates.js';
import type { Core } from './start-parts.js';
import type { CertManager } from './tls/manager.js';

export interface ObserveParts {
  gate: Gate;
  edge: LocalEdge;
  feed: EdgeFeed;
  certManager?: CertManager | undefined;
  dataDir: string;
  /** Where access log records go (the log store, or a test's sink). */
  sink: AccessLogSink;
}

/**
 * Traffic and alerts (docs/observability.md, docs/logs.md, docs/alerts.md): this machine's nginx
 * access log → traffic metrics (node "local") and records for the sink; the alert rules, whose
 * error rate counts from every node's traffic; the sink for remote edges' batches, which also turns
 * their nginx's own refusals into security events.
 */
export async function startObserve(
  life: Lifecycle,
  core: Core,
  p: ObserveParts,
): Promise<{ traffic: LocalTraffic; alerts: AlertService; edgeSink: AccessLogSink }> {
  const { metrics, db, log } = core;
  const traffic = await life.start(
    new LocalTraffic({
      registry: metrics.registry,
      prefix: join(p.dataDir, 'nginx'),
      sink: p.sink,
      config: () => p.edge.config,
      log: log.child({ part: 'access-log' }),
    }),
  );
  // The engine runs on the leader; every replica serves the API.
  const alerts = await startAlerts(life, {
    ...core,
    gate: p.gate,
    edge: p.edge,
    feed: p.feed,
    certManager: p.certManager,
    nodes: () => new NodeStore(db).list(),
    errorRates: new TrafficRates(traffic.metrics),
  });
  // A removed edge's traffic series go with it.
  metrics.onScrape(async () =>
    traffic.metrics.keepOnly(['local', ...(await new NodeStore(db).list()).map((n) => n.name)]),
  );
  return { traffic, alerts, edgeSink: withEdgeRefusals(p.gate, p.sink) };
}
