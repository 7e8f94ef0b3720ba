import { scryptSync } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../observe/log.js';
import { writeFileAtomic } from '../store/files.js';
import type { EdgeFeedBody } from './feed.js';
import { openWith, sealWith } from './transit.js';

/**
 * An edge's last good body on its own disk (`state.cache`), sealed with a key derived from the node
 * token (only this node reads it), so a restart while the control plane is away serves at once.
 * Writes go one at a time in the background, the latest body winning.
 */
export class EdgeStateCache {
  readonly file: string;
  /** Derived once: scrypt takes ~150 ms of blocked event loop, and the token never changes. */
  private keyMemo: Buffer | undefined;
  /** The body to write next, once the write under way (`writing`) is done. */
  private next: EdgeFeedBody | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    dataDir: string,
    private readonly token: string,
    private readonly log: Logger,
    /** A write failed (the message): what the agent reports as its error. */
    private readonly failed: (message: string) => void,
    /** Whether the body is still this node's to keep (a revoked node writes nothing more). */
    private readonly wanted: () => boolean,
  ) {
    this.file = join(dataDir, 'state.cache');
  }

  private key(): Buffer {
    this.keyMemo ??= scryptSync(this.token, 'gatehouse edge cache v1', 32);
    return this.keyMemo;
  }

  /** The cached body, or undefined when there is none or it cannot be read (logged: never served). */
  async read(): Promise<EdgeFeedBody | undefined> {
    const raw = await readFile(this.file).catch(() => undefined);
    if (!raw) return undefined;
    try {
      if (raw.subarray(0, 4).toString() !== 'GHC2') throw new Error('not a Gatehouse edge cache');
      return openWith<EdgeFeedBody>(this.key(), raw.subarray(4));
    } catch (err) {
      // Damaged, or another node's: the control plane will send the config.
      this.log.error(
        { file: this.file, err: err instanceof Error ? err.message : String(err) },
        'edge: the state cache cannot be read (damaged, or not this node’s); waiting for the control plane',
      );
      return undefined;
    }
  }

  /** Writes `body` after the write under way; a body queued meanwhile is replaced. */
  saveLater(body: EdgeFeedBody): void {
    const queued = this.next !== undefined;
    this.next = body;
    if (queued) return;
    this.writing = this.writing.then(async () => {
      const next = this.next;
      this.next = undefined;
      if (!next || !this.wanted()) return;
      await writeFileAtomic(
        this.file,
        Buffer.concat([Buffer.from('GHC2'), sealWith(this.key(), next)]),
        0o600,
      ).catch((err: unknown) => {
        const message = `state cache: ${err instanceof Error ? err.message : String(err)}`;
        this.log.warn({ err: message }, 'edge: could not write the state cache');
        this.failed(message);
      });
    });
  }

  /** Waits for the writes under way and queued. */
  async drain(): Promise<void> {
    await this.writing;
  }

  /** Removes the cache, after the write under way (none queued follows). */
  async remove(): Promise<void> {
    this.next = undefined;
    await this.writing;
    await rm(this.file, { force: true });
  }
}
