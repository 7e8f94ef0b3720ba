import { open, stat, type FileHandle } from 'node:fs/promises';

/**
 * Follows a log file nginx appends to, line by line, through rotations:
 * - nginx's USR1 after a rename (prefix.ts: rotateLogs) or a file replaced: a new file at the path.
 *   The old one stays open and is read to its end until it has been quiet for `drainMs` (each
 *   worker reopens on its own and flushes its buffer, `flush=1s`, to the old file first), then the
 *   new one is read from its start. Lines are never lost to a rotation, nor to a reload (the same
 *   file, old workers flush into it as they go).
 * - truncated in place: read again from the start.
 * Memory is bounded: it reads `chunkBytes` (64 KiB) at a time and hands the lines over (awaiting the
 * handler: a slow consumer slows the reading, the rest waits on disk); a line longer than
 * `maxLineBytes` is skipped (and counted).
 */
/** A place in a log file: which file (inode) and how far its lines were handed over. */
export interface LogPosition {
  ino: number;
  dev: number;
  offset: number;
}

export interface LogTailOptions {
  /** Where reading starts in the file there at start: its end (only new lines, the default) or 0. */
  fromStart?: boolean;
  /**
   * Where an earlier run got to: the same file is read on from there; another file at the path (it
   * was rotated meanwhile) from its start. Overrides `fromStart`.
   */
  resume?: LogPosition;
  pollMs?: number;
  chunkBytes?: number;
  maxLineBytes?: number;
  drainMs?: number;
}

interface Open {
  fh: FileHandle;
  ino: number;
  dev: number;
  offset: number;
  /** The start of a line not yet ended. */
  carry: Buffer[];
  carryBytes: number;
  /** Skipping the rest of an over-long line. */
  skipping: boolean;
  /** Rotated away: when it last gave bytes. */
  quietSince?: number;
}

export class LogTail {
  private current: Open | undefined;
  private draining: Open[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  private readonly pollMs: number;
  private readonly chunk: Buffer;
  private readonly maxLine: number;
  private readonly drainMs: number;
  /** Lines skipped for their length. */
  skipped = 0;

  constructor(
    private readonly path: string,
    /** Whole lines, and the position just past them (the file's place for a resume). */
    private readonly onLines: (lines: string[], at: LogPosition) => Promise<void> | void,
    private readonly opts: LogTailOptions = {},
  ) {
    this.pollMs = opts.pollMs ?? 250;
    // 64 KiB: a string decoded from a larger chunk goes to V8's large-object space, and decoding
    // 256 KiB chunks was measured 30× slower than 64 KiB ones (650 ms against 20 ms for 150 MB).
    this.chunk = Buffer.allocUnsafe(opts.chunkBytes ?? 64 * 1024);
    this.maxLine = opts.maxLineBytes ?? 64 * 1024;
    this.drainMs = opts.drainMs ?? 3000;
  }

  async start(): Promise<void> {
    const r = this.opts.resume;
    if (r) {
      const o = await this.openPath(0);
      // The same file: on from where the last run's lines were kept (0 if it shrank since).
      if (o && o.ino === r.ino && o.dev === r.dev)
        o.offset = r.offset <= (await o.fh.stat()).size ? r.offset : 0;
      this.current = o;
    } else this.current = await this.openPath(this.opts.fromStart ? 0 : 'end');
    this.schedule();
  }

  /** Stops following; what is in the files now is read first. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    await this.poll().catch(() => undefined);
    for (const o of [...this.draining, ...(this.current ? [this.current] : [])]) await o.fh.close();
    this.draining = [];
    this.current = undefined;
  }

  /** Reads what there is now (tests call it to skip the wait). */
  poll(): Promise<void> {
    const run = (this.running ?? Promise.resolve()).then(() => this.pollOnce());
    const settled = run.catch(() => undefined);
    this.running = settled;
    void settled.then(() => {
      if (this.running === settled) this.running = undefined;
    });
    return run;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.poll()
        .catch(() => undefined)
        .finally(() => this.schedule());
    }, this.pollMs);
    this.timer.unref();
  }

  private async pollOnce(): Promise<void> {
    // Rotated files first: their lines are older.
    for (const o of [...this.draining]) {
      const got = await this.drain(o);
      const now = Date.now();
      if (got > 0) o.quietSince = now;
      else if (now - (o.quietSince ?? now) >= this.drainMs) {
        this.draining = this.draining.filter((d) => d !== o);
        await o.fh.close();
      }
    }
    if (!this.current) {
      this.current = await this.openPath(0);
      if (!this.current) return;
    }
    const cur = this.current;
    await this.drain(cur);
    const st = await stat(this.path).catch(() => undefined);
    if (st && (st.ino !== cur.ino || st.dev !== cur.dev)) {
      // A new file at the path: the old one is read until it stays quiet.
      cur.quietSince = Date.now();
      this.draining.push(cur);
      this.current = await this.openPath(0);
      if (this.current) await this.drain(this.current);
    } else if (st && st.size < cur.offset) {
      // Truncated in place.
      cur.offset = 0;
      cur.carry = [];
      cur.carryBytes = 0;
      await this.drain(cur);
    }
  }

  private async openPath(at: number | 'end'): Promise<Open | undefined> {
    const fh = await open(this.path, 'r').catch(() => undefined);
    if (!fh) return undefined;
    const st = await fh.stat();
    return {
      fh,
      ino: st.ino,
      dev: st.dev,
      offset: at === 'end' ? st.size : at,
      carry: [],
      carryBytes: 0,
      skipping: false,
    };
  }

  /** Reads `o` to its current end, handing over whole lines; returns the bytes read. */
  private async drain(o: Open): Promise<number> {
    let total = 0;
    for (;;) {
      const { bytesRead } = await o.fh.read(this.chunk, 0, this.chunk.length, o.offset);
      if (bytesRead === 0) return total;
      o.offset += bytesRead;
      total += bytesRead;
      const lines = this.split(o, this.chunk.subarray(0, bytesRead));
      if (lines.length > 0)
        await this.onLines(lines, { ino: o.ino, dev: o.dev, offset: o.offset - o.carryBytes });
      if (bytesRead < this.chunk.length) return total;
    }
  }

  private split(o: Open, buf: Buffer): string[] {
    let lines: string[] = [];
    let start = 0;
    // The first line may continue what the last chunk left (or be the rest of a skipped one).
    if (o.skipping || o.carryBytes > 0) {
      const nl = buf.indexOf(10);
      if (nl >= 0) {
        if (!o.skipping) {
          o.carry.push(buf.subarray(0, nl));
          lines.push(Buffer.concat(o.carry).toString('utf8'));
        }
        o.skipping = false;
        o.carry = [];
        o.carryBytes = 0;
        start = nl + 1;
      } else {
        start = buf.length;
        if (!o.skipping) this.keep(o, buf);
      }
    }
    // The whole lines in one string, split (one decode a chunk, not one a line).
    const last = buf.lastIndexOf(10);
    if (last >= start) {
      const whole = buf.toString('utf8', start, last).split('\n');
      lines = lines.length ? lines.concat(whole) : whole;
      for (const l of whole) if (l.length > this.maxLine) this.skipped++;
      if (whole.some((l) => l.length > this.maxLine)) lines = lines.filter((l) => l.length <= this.maxLine);
      start = last + 1;
    }
    if (start < buf.length) this.keep(o, buf.subarray(start));
    return lines;
  }

  /** The start of a line not yet ended, kept up to maxLine (beyond: the line is skipped). */
  private keep(o: Open, part: Buffer): void {
    if (o.carryBytes + part.length > this.maxLine) {
      o.carry = [];
      o.carryBytes = 0;
      o.skipping = true;
      this.skipped++;
      return;
    }
    // A copy: the chunk's buffer is read into again.
    o.carry.push(Buffer.from(part));
    o.carryBytes += part.length;
  }
}
