import { open, stat } from 'node:fs/promises';

/**
 * Follows a log file nginx appends to: every `intervalMs`, the whole lines added since the last
 * look go to `line`, one at a time. Starts at the end (old lines were an earlier run's); a file
 * that shrank (rotated, truncated) is read from its top.
 */
export class FileTail {
  private offset = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly file: string,
    private readonly line: (line: string) => Promise<void>,
  ) {}

  async start(intervalMs = 1000): Promise<void> {
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
}
