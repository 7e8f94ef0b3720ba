import type { EdgeConfig } from '../compile/edge-config.js';
import { ACCESS_LOG_BATCH_MAX, type AccessLogRecord, type AccessLogSink } from '../model/access-log.js';
import type { Logger } from '../observe/log.js';
import { parseAccessLine } from '../observe/access-log-parse.js';
import { LogTail, type LogTailOptions } from '../observe/access-log-reader.js';
import { RouteResolver } from './access-log-routes.js';
import type { TrafficCounters } from '../observe/traffic-metrics.js';

export interface AccessLogPipelineOptions {
  /** nginx's main access log (`<prefix>/logs/access.log`). */
  file: string;
  /** The record's node: `local` for the control plane's own nginx. */
  node: string;
  counters: TrafficCounters;
  sink: AccessLogSink;
  /** The config the edge serves now (service and route names), undefined before the first. */
  config: () => EdgeConfig | undefined;
  log: Logger;
  /** Records a batch at most (≤ ACCESS_LOG_BATCH_MAX). */
  batchMax?: number;
  /** A batch not full is handed over after this long. */
  flushMs?: number;
  tail?: LogTailOptions;
}

/**
 * An edge's access log → traffic metrics and access log records: follows the file (LogTail),
 * parses each line, counts it (TrafficCounters) and hands the records to the sink in batches of at
 * most `batchMax`, one batch at a time. While the sink holds a batch, reading waits (the lines wait
 * on disk): memory stays at one batch and one chunk of the file. A batch the sink refuses is
 * dropped and counted (the metrics have counted its lines already).
 */
export class AccessLogPipeline {
  private readonly tail: LogTail;
  private readonly routes = new RouteResolver();
  private batch: AccessLogRecord[] = [];
  private sending: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly batchMax: number;
  private lastWarn = 0;

  constructor(private readonly o: AccessLogPipelineOptions) {
    this.batchMax = Math.min(o.batchMax ?? ACCESS_LOG_BATCH_MAX, ACCESS_LOG_BATCH_MAX);
    this.tail = new LogTail(o.file, (lines) => this.take(lines), o.tail);
  }

  async start(): Promise<void> {
    await this.tail.start();
    this.timer = setInterval(() => void this.flush(), this.o.flushMs ?? 1000);
    this.timer.unref();
  }

  /** Reads what is left, hands over the last batch, stops. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.tail.stop();
    await this.flush();
  }

  /** Reads what the file holds now and hands it over (tests, to skip the waits). */
  async poll(): Promise<void> {
    await this.tail.poll();
    await this.flush();
  }

  private async take(lines: string[]): Promise<void> {
    const cfg = this.o.config();
    if (cfg) this.routes.update(cfg);
    const c = this.o.counters;
    for (const line of lines) {
      const p = parseAccessLine(line, this.o.node, this.routes);
      if (!p) {
        if (line.length > 0) c.addUnparsed();
        continue;
      }
      c.add(p);
      this.batch.push(p.record);
      if (this.batch.length >= this.batchMax) await this.flush();
    }
  }

  /** Hands the batch over once the one before it is kept. */
  private flush(): Promise<void> {
    this.sending = this.sending.then(async () => {
      if (this.batch.length === 0) return;
      const batch = this.batch;
      this.batch = [];
      try {
        await this.o.sink.ingest(batch);
      } catch (err) {
        this.o.counters.addDropped(batch.length);
        // One warning a minute at most: a store that is down would otherwise fill the log.
        if (Date.now() - this.lastWarn > 60_000) {
          this.lastWarn = Date.now();
          this.o.log.warn(
            { err: err instanceof Error ? err.message : String(err), records: batch.length },
            'access log records not kept (counted in the metrics all the same)',
          );
        }
      }
    });
    return this.sending;
  }
}
