import { open, stat } from 'node:fs/promises';
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
export class SecurityLog {
  private offset = 0;
  private timer: NodeJS.Timeout | undefined;
  private minute = 0;
  private stored = 0;

  constructor(
    private readonly file: string,
    private readonly gate: Gate,
  ) {}

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
    const kind = m ? KINDS[m[2] as string] : undefined;
    if (!m || !kind) return;
    const minute = Math.floor(Number(m[1]) / 60);
    if (minute !== this.minute) {
      this.minute = minute;
      this.stored = 0;
    }
    if (this.stored++ < STORE_PER_MINUTE) {
      const host = m[4] as string;
      const path = (m[5] as string).slice(0, 200);
      await this.gate.event(kind, m[3] as string, '', `${host}${path}`, { host, path });
    } else {
      this.gate.count(kind);
    }
  }
}
