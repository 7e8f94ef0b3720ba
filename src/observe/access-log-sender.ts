import type { AccessLogRecord, AccessLogSink } from '../model/access-log.js';
import type { Logger } from './log.js';
import type { TrafficCounters } from './traffic-metrics.js';

/** The control plane's route for edges' access logs (src/api/edge-access-logs.ts). */
export const ACCESS_LOGS_PATH = '/edge/v1/access-logs';

export interface AccessLogSenderOptions {
  /** The control URL followed now. */
  base: () => string;
  token: string;
  counters: TrafficCounters;
  /** TCP routes' counters (traffic-tcp.ts), sent beside. */
  tcp?: TrafficCounters;
  log: Logger;
  /** Waits between attempts while the control plane does not answer (ms). */
  retryMs?: number[];
}

/**
 * A remote edge's sink: each batch goes to the control plane (POST /edge/v1/access-logs, the node
 * token) with the edge's traffic counters that changed since the last report the control plane took.
 * While the control plane does not answer (or answers 5xx) the batch is sent again, with growing
 * waits: the reading waits meanwhile (AccessLogPipeline), the lines wait on disk. A batch refused
 * as invalid (4xx) is dropped: sending it again would be refused again.
 */
export class AccessLogSender implements AccessLogSink {
  private acked = 0;
  private ackedTcp = 0;
  private stopped = false;
  private readonly abort = new AbortController();

  constructor(private readonly o: AccessLogSenderOptions) {}

  stop(): void {
    this.stopped = true;
    this.abort.abort();
  }

  /** Whether counters changed since the control plane last took them, and no send is under way. */
  get idleWithChanges(): boolean {
    return this.busy === 0 && (this.o.counters.seq > this.acked || (this.o.tcp?.seq ?? 0) > this.ackedTcp);
  }

  private busy = 0;

  ingest(records: readonly AccessLogRecord[]): Promise<void> {
    return this.ingestJson(JSON.stringify(records));
  }

  async ingestJson(json: string): Promise<void> {
    this.busy++;
    try {
      await this.send(json);
    } finally {
      this.busy--;
    }
  }

  /** `records`: the batch as a JSON array. */
  private async send(records: string): Promise<void> {
    const waits = this.o.retryMs ?? [250, 500, 1000, 2000, 5000];
    for (let attempt = 0; !this.stopped; attempt++) {
      const seq = this.o.counters.seq;
      const tcp = this.o.tcp;
      const tcpSeq = tcp?.seq ?? 0;
      const rest = JSON.stringify({
        counters: this.o.counters.wire(this.acked),
        ...(tcp ? { tcp: tcp.wire(this.ackedTcp) } : {}),
      });
      const body = `{"records":${records},${rest.slice(1)}`;
      const res = await fetch(`${this.o.base()}${ACCESS_LOGS_PATH}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.o.token}`, 'content-type': 'application/json' },
        body,
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(30_000)]),
      }).catch((err: unknown) => err);
      if (res instanceof Response) {
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          this.acked = seq;
          this.ackedTcp = tcpSeq;
          return;
        }
        if (res.status < 500) {
          throw new Error(`the control plane refused access log records (${res.status})`);
        }
      }
      if (attempt === 3)
        this.o.log.warn(
          { err: res instanceof Response ? `answered ${res.status}` : String(res) },
          'edge: access logs not reaching the control plane; retrying (lines wait in the log file)',
        );
      await sleep(waits[Math.min(attempt, waits.length - 1)] as number, this.abort.signal);
    }
    throw new Error('edge stopping: access log batch not sent');
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}
