import { FileTail } from './file-tail.js';
import type { AccessLogRecord, AccessLogSink } from '../model/access-log.js';
import type { Gate, SecurityEvent } from './gate.js';

const KINDS: Record<string, SecurityEvent> = {
  '401': 'unauthenticated',
  '403': 'denied',
  '429': 'rate_limited',
};
/** Stored events per minute from nginx's refusals; beyond that they are only counted (a flood must not fill the disk). */
const STORE_PER_MINUTE = 60;

/**
 * Follows nginx's security log (requests nginx refused itself: 401, 403, 429 without an upstream)
 * and turns its lines into security events: every one counted, the first 60 a minute stored.
 */
/** Requests nginx refused itself, as security events: every one counted, the first 60 a minute stored. */
export class RefusalEvents {
  private minute = 0;
  private stored = 0;

  constructor(private readonly gate: Gate) {}

  /** `time` in seconds since the epoch; `node`: the edge that refused it (none: this machine). */
  async take(
    status: string,
    time: number,
    ip: string,
    host: string,
    path: string,
    node?: string,
  ): Promise<void> {
    const kind = KINDS[status];
    if (!kind) return;
    const minute = Math.floor(time / 60);
    if (minute !== this.minute) {
      this.minute = minute;
      this.stored = 0;
    }
    if (this.stored++ < STORE_PER_MINUTE) {
      const p = path.slice(0, 200);
      await this.gate.event(kind, ip, '', `${host}${p}${node ? ` (edge ${node})` : ''}`, { host, path: p });
    } else {
      this.gate.count(kind);
    }
  }
}

/**
 * The sink for remote edges' access log records that also turns the requests their nginx refused
 * itself (401, 403, 429 with no upstream asked) into security events, as the security log does for
 * this machine's nginx: the events page and the alerts see every edge.
 */
export function withEdgeRefusals(gate: Gate, sink: AccessLogSink): AccessLogSink {
  const refusals = new RefusalEvents(gate);
  return {
    async ingest(records: readonly AccessLogRecord[]): Promise<void> {
      for (const r of records)
        if (r.upstream === null && KINDS[String(r.status)])
          await refusals.take(String(r.status), r.time / 1000, r.client, r.host, r.path, r.node);
      await sink.ingest(records);
    },
  };
}

/** Follows nginx's security log (logs/security.log) into security events. */
export class SecurityLog extends FileTail {
  constructor(file: string, gate: Gate) {
    const refusals = new RefusalEvents(gate);
    super(file, async (line) => {
      const m = /^([0-9.]+) ([0-9]{3}) (\S+) "([^"]*)" "([^"]*)"$/.exec(line);
      if (!m) return;
      await refusals.take(m[2] as string, Number(m[1]), m[3] as string, m[4] as string, m[5] as string);
    });
  }
}
