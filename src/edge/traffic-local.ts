import { join } from 'node:path';
import type { Registry } from 'prom-client';
import type { EdgeConfig } from '../compile/edge-config.js';
import type { AccessLogSink } from '../model/access-log.js';
import type { Logger } from '../observe/log.js';
import { AccessLogReaderThread } from './access-log-reader-thread.js';
import { followConnections, statusSocketOf } from '../observe/traffic-connections.js';
import { TrafficMetrics } from '../observe/traffic-export.js';
import { TcpTraffic } from '../observe/traffic-tcp.js';
import { TrafficCounters } from '../observe/traffic-metrics.js';

export interface LocalTrafficOptions {
  /** The control plane's /metrics registry. */
  registry: Registry;
  /** The local nginx's prefix (`<data_dir>/nginx`). */
  prefix: string;
  sink: AccessLogSink;
  config: () => EdgeConfig | undefined;
  log: Logger;
}

/**
 * The control plane's traffic: its own nginx's access log read into metrics (node "local") and
 * records for the sink; remote edges' counters join the same metrics (POST /edge/v1/access-logs).
 */
export class LocalTraffic {
  readonly metrics: TrafficMetrics;
  readonly counters = new TrafficCounters();
  /** The log's reader, in a thread of its own (access-log-reader-thread.ts). */
  readonly pipeline: AccessLogReaderThread;
  /** TCP routes, from nginx's stream log. */
  readonly tcp: TcpTraffic;
  private readonly prefix: string;

  constructor(o: LocalTrafficOptions) {
    this.prefix = o.prefix;
    this.tcp = new TcpTraffic(o.prefix, 'local', o.config);
    this.metrics = new TrafficMetrics(o.registry);
    this.metrics.set('local', this.counters);
    this.metrics.setTcp('local', this.tcp.counters);
    this.pipeline = new AccessLogReaderThread({
      file: join(o.prefix, 'logs', 'access.log'),
      node: 'local',
      counters: this.counters,
      sink: o.sink,
      config: o.config,
      log: o.log,
    });
  }

  private stopConnections: (() => void) | undefined;

  async start(): Promise<void> {
    this.stopConnections = followConnections(statusSocketOf(this.prefix), this.counters);
    await this.tcp.start();
    await this.pipeline.start();
  }

  async stop(): Promise<void> {
    this.stopConnections?.();
    await this.tcp.stop();
    await this.pipeline.stop();
  }
}
