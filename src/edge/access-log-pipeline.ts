import { ACCESS_LOG_BATCH_MAX } from '../model/access-log-limits.js';
import type { AccessLogRecord, AccessLogSink } from '../model/access-log.js';
import { parseAccessLine } from '../observe/access-log-parse.js';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { LogTail, type LogPosition, type LogTailOptions } from '../observe/access-log-reader.js';
import type { RouteResolver } from './access-log-routes.js';
import type { TrafficCounters } from '../observe/traffic-metrics.js';

/** What the pipeline logs with: a pino logger, or the reader thread's messages to the main thread. */
export interface PipelineLog {
  warn(obj: object, msg: string): void;
}

export interface AccessLogPipelineOptions {
  /** nginx's main access log (`<prefix>/logs/access.log`). */
  file: string;
  /** The record's node: `local` for the control plane's own nginx. */
  node: string;
  counters: TrafficCounters;
  sink: AccessLogSink;
  /** Names each line's service and route; its owner keeps it up to date (the reader's thread). */
  routes: RouteResolver;
  log: PipelineLog;
  /** Records a batch at most (≤ ACCESS_LOG_BATCH_MAX). */
  batchMax?: number;
  /** A batch not full is handed over after this long. */
  flushMs?: number;
  tail?: LogTailOptions;
  /**
   * Where the position of the last records the sink kept is saved (default: the log's path +
   * `.position`), so that the next run reads on from there: lines written while the reader was
   * stopped are read then. Off with `false`.
   */
  checkpoint?: string | false;
}

/** At most one checkpoint write this often (a crash re-reads at most this much, as duplicates). */
const CHECKPOINT_MS = 1000;

function positionOf(text: string): LogPosition | undefined {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    const n = (k: string) =>
      typeof v[k] === 'number' && Number.isSafeInteger(v[k]) && (v[k] as number) >= 0
        ? (v[k] as number)
        : undefined;
    const ino = n('ino');
    const dev = n('dev');
    const offset = n('offset');
    return ino !== undefined && dev !== undefined && offset !== undefined ? { ino, dev, offset } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An edge's access log → traffic metrics and access log records: follows the file (LogTail),
 * parses each line, counts it (TrafficCounters) and hands the records to the sink in batches of at
 * most `batchMax`, one batch at a time. While the sink holds a batch, reading waits (the lines wait
 * on disk): memory stays at one batch and one chunk of the file. A batch the sink refuses is
 * dropped and counted (the metrics have counted its lines already).
 */
export class AccessLogPipeline {
  private tail: LogTail | undefined;
  /** Just past the last lines taken whole (each is in the batch or handed over). */
  private takenAt: LogPosition | undefined;
  private savedAt: LogPosition | undefined;
  private lastSave = 0;
  private readonly checkpoint: string | undefined;
  private readonly routes: RouteResolver;
  private batch: AccessLogRecord[] = [];
  private sending: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly batchMax: number;
  private lastWarn = 0;

  constructor(private readonly o: AccessLogPipelineOptions) {
    this.routes = o.routes;
    this.batchMax = Math.min(o.batchMax ?? ACCESS_LOG_BATCH_MAX, ACCESS_LOG_BATCH_MAX);
    this.checkpoint = o.checkpoint === false ? undefined : (o.checkpoint ?? `${o.file}.position`);
  }

  async start(): Promise<void> {
    const resume = this.checkpoint
      ? positionOf(await readFile(this.checkpoint, 'utf8').catch(() => ''))
      : undefined;
    this.savedAt = resume;
    this.tail = new LogTail(this.o.file, (lines, at) => this.take(lines, at), {
      ...this.o.tail,
      ...(resume ? { resume } : {}),
    });
    await this.tail.start();
    this.timer = setInterval(() => void this.flush(), this.o.flushMs ?? 1000);
    this.timer.unref();
  }

  /** Reads what is left, hands over the last batch, stops. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.tail?.stop();
    await this.flush();
    await this.save(true);
  }

  /** Reads what the file holds now and hands it over (tests, to skip the waits). */
  async poll(): Promise<void> {
    await this.tail?.poll();
    await this.flush();
  }

  private async take(lines: string[], at: LogPosition): Promise<void> {
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
    this.takenAt = at;
  }

  /** Saves the position of what the sink has kept (at most once a second, unless `now`). */
  private async save(now = false): Promise<void> {
    const at = this.keptAt;
    if (!this.checkpoint || !at || at === this.savedAt) return;
    if (!now && Date.now() - this.lastSave < CHECKPOINT_MS) return;
    this.lastSave = Date.now();
    this.savedAt = at;
    const tmp = `${this.checkpoint}.tmp`;
    await writeFile(tmp, JSON.stringify(at))
      .then(() => rename(tmp, this.checkpoint as string))
      .catch((err: unknown) => this.o.log.warn({ err: String(err) }, 'access log position not saved'));
  }

  /** The position up to which the sink has kept every record (set after a batch is kept). */
  private keptAt: LogPosition | undefined;

  /** Hands the batch over once the one before it is kept. */
  private flush(): Promise<void> {
    this.sending = this.sending.then(async () => {
      if (this.batch.length === 0) return;
      const batch = this.batch;
      this.batch = [];
      // nginx's workers each buffer their lines (buffer=64k flush=1s): one worker's lines can reach
      // the file after another's newer ones. A batch goes on in time order (a stable sort: lines of
      // one millisecond keep their order; one already in order costs a pass).
      batch.sort(byTime);
      // Every line taken whole so far is in this batch or in one kept before it.
      const upTo = this.takenAt;
      try {
        await this.o.sink.ingest(batch);
        if (upTo) this.keptAt = upTo;
        await this.save();
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

const byTime = (a: AccessLogRecord, b: AccessLogRecord): number => a.time - b.time;
