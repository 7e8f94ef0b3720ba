import type { Lifecycle } from '../lifecycle.js';
import type { EdgeFeed } from '../edge/feed.js';
import type { LocalEdge } from '../edge/local-edge.js';
import type { NodeView } from '../edge/nodes.js';
import type { Gate } from '../gate/gate.js';
import type { Settings } from '../model/settings.js';
import type { Logger } from '../observe/log.js';
import type { Db } from '../store/db.js';
import type { Leader } from '../store/leader.js';
import { backupServiceFor } from '../store/backup-schedule.js';
import type { Sealer } from '../store/secrets.js';
import type { CertManager } from '../tls/manager.js';
import type { CertStore } from '../tls/store.js';
import type { ErrorRateSource } from './rules.js';
import { AlertService } from './service.js';

/** How often the local edge's down servers are looked at (an in-memory set). */
const DOWN_LOOK_MS = 200;

export interface AlertParts {
  settings: Settings;
  db: Db;
  sealer: Sealer;
  log: Logger;
  leader: Leader;
  gate: Gate;
  edge: LocalEdge;
  feed: EdgeFeed;
  certs: CertStore;
  certManager?: CertManager | undefined;
  /** The edge nodes as they reported (edge/nodes.ts). */
  nodes: () => Promise<NodeView[]>;
  /** Per-service request counts (the traffic metrics), when they exist: the error-rate rule needs them. */
  errorRates?: ErrorRateSource;
}

/** Alert rules (docs/alerts.md): the engine runs on the leader only; every replica serves the API. */
export async function startAlerts(life: Lifecycle, p: AlertParts): Promise<AlertService> {
  const service = new AlertService({
    db: p.db,
    sealer: p.sealer,
    log: p.log.child({ part: 'alerts' }),
    sources: {
      downServers: () => p.edge.getStatus().downServers,
      nodes: p.nodes,
      expectedHash: (role) => p.feed.currentHash(role),
      certs: () => p.certs.list(),
      ...(p.certManager ? { orders: () => [...(p.certManager?.orders.values() ?? [])] } : {}),
      lastBackup: () => backupServiceFor(p.settings)?.last,
      ...(p.errorRates ? { errorRates: p.errorRates } : {}),
    },
    onEdgeSettled: (fn) => {
      const off = p.edge.onSettled(fn);
      // A health check's verdict is in getStatus() at once, before nginx has applied it (the
      // settled event): looking every 200 ms starts the hold time up to an apply sooner.
      let key = '';
      const timer = setInterval(() => {
        const now = p.edge.getStatus().downServers.join('\n');
        if (now !== key) fn();
        key = now;
      }, DOWN_LOOK_MS);
      timer.unref();
      return () => {
        off();
        clearInterval(timer);
      };
    },
    onNodeReported: (fn) => p.feed.onReported(fn),
    onSecurityEvent: (fn) => p.gate.onEvent((e) => fn(e.kind)),
  });
  await life.start(p.leader.whileLeading('alerts', service.leaderJob()));
  return service;
}
