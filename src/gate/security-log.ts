import { open, stat } from 'node:fs/promises';
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

export class SecurityLog {
  private offset = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly refusals: RefusalEvents;

  constructor(
    private readonly file: string,
    gate: Gate,
  ) {
    this.refusals = new RefusalEvents(gate);
  }

  async start(intervalMs = 1000): Promise<void> {
    // Only what happens from now on: old lines were handled by an earlier run.
    this.offset = await stat(this.file).then(
      (s) => s.size,
      () => 0,
    );
    this.timer = setInterval(() => void this.poll().catch(() => undefined), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async poll(): Promise<void> {
    const size = await stat(this.file).then(
      (s) => s.size,
      () => 0,
    );
    // Rotated or truncated: start at the top of the new file.
    if (size < this.offset) this.offset = 0;
    if (size === this.offset) return;
    const fh = await open(this.file, 'r');
    try {
      const length = Math.min(size - this.offset, 4 * 1024 * 1024);
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, this.offset);
      const text = buf.subarray(0, bytesRead).toString('utf8');
      const end = text.lastIndexOf('\n');
      if (end < 0) return;
      this.offset += Buffer.byteLength(text.slice(0, end + 1));
      for (const line of text.slice(0, end).split('\n')) await this.line(line);
    } finally {
      await fh.close();
    }
  }

  private async line(line: string): Promise<void> {
    const m = /^([0-9.]+) ([0-9]{3}) (\S+) "([^"]*)" "([^"]*)"$/.exec(line);
    if (!m) return;
    await this.refusals.take(m[2] as string, Number(m[1]), m[3] as string, m[4] as string, m[5] as string);
  }
}
