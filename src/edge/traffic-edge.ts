import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { EdgeConfig } from '../compile/edge-config.js';
import type { Logger } from '../observe/log.js';
import { AccessLogReaderThread } from './access-log-reader-thread.js';
import { AccessLogSender } from '../observe/access-log-sender.js';
import { followConnections, statusSocketOf } from '../observe/traffic-connections.js';
import { TrafficMetrics } from '../observe/traffic-export.js';
import { TcpTraffic } from '../observe/traffic-tcp.js';
import { TrafficCounters } from '../observe/traffic-metrics.js';

export interface EdgeTrafficOptions {
  /** nginx's prefix (its logs are in `logs/`). */
  prefix: string;
  /** The control URL followed now, and the node token. */
  base: () => string;
  token: string;
  config: () => EdgeConfig | undefined;
  log: Logger;
  /** `--metrics-listen`: the edge's own metrics endpoint (GET /metrics, no token: bind it locally). */
  metricsListen?: { host: string; port: number };
  /**
   * Rotates nginx's logs past a size (the driver's rotateLogs), every 5 s: an edge's access log
   * would otherwise grow without end. The reader follows the rotation.
   */
  rotate?: () => Promise<unknown>;
}

/**
 * A remote edge's traffic: its nginx's access log read into metrics (its own /metrics, node
 * "local", when `metricsListen` is given) and records sent with its counters to the control plane,
 * which keeps the records and exports the counters with node=<edge name>.
 */
export class EdgeTraffic {
  readonly registry = new Registry();
  readonly counters = new TrafficCounters();
  private readonly sender: AccessLogSender;
  /** The log's reader, in a thread of its own (access-log-reader-thread.ts); batches come back here to send. */
  private readonly pipeline: AccessLogReaderThread;
  private server: Server | undefined;
  private rotation: NodeJS.Timeout | undefined;
  private stopConnections: (() => void) | undefined;

  /** TCP routes, from nginx's stream log. */
  private readonly tcp: TcpTraffic;

  constructor(private readonly o: EdgeTrafficOptions) {
    this.tcp = new TcpTraffic(o.prefix, 'local', o.config);
    const metrics = new TrafficMetrics(this.registry);
    metrics.set('local', this.counters);
    metrics.setTcp('local', this.tcp.counters);
    this.sender = new AccessLogSender({
      base: o.base,
      token: o.token,
      counters: this.counters,
      tcp: this.tcp.counters,
      log: o.log,
    });
    this.pipeline = new AccessLogReaderThread({
      file: join(o.prefix, 'logs', 'access.log'),
      node: 'local',
      counters: this.counters,
      sink: this.sender,
      config: o.config,
      log: o.log,
    });
  }

  /** The address of the metrics endpoint, once listening. */
  get metricsAddress(): { host: string; port: number } | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? { host: a.address, port: a.port } : undefined;
  }

  async start(): Promise<void> {
    const listen = this.o.metricsListen;
    if (listen) {
      const server = createServer((req, res) => {
        const path = (req.url ?? '').split('?')[0];
        if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
          return;
        }
        void this.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
          () => res.writeHead(500).end(),
        );
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(listen.port, listen.host, () => resolve());
      });
      this.server = server;
    }
    await this.tcp.start();
    await this.pipeline.start();
    this.stopConnections = followConnections(statusSocketOf(this.o.prefix), this.counters);
    const rotate = this.o.rotate;
    this.rotation = setInterval(() => {
      if (rotate)
        void rotate().catch((err: unknown) =>
          this.o.log.error({ err: String(err) }, 'edge: log rotation failed'),
        );
      // Counters that changed with no batch to carry them (TCP routes alone, unparsed lines).
      if (this.sender.idleWithChanges) void this.sender.ingest([]).catch(() => undefined);
    }, 5000);
    this.rotation.unref();
  }

  async stop(): Promise<void> {
    if (this.rotation) clearInterval(this.rotation);
    this.stopConnections?.();
    // The control plane may be away: the last batch is not waited for.
    this.sender.stop();
    await this.tcp.stop();
    await this.pipeline.stop();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
