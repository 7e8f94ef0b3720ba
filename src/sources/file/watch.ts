import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { readTextFile } from './read.js';
import { GatehouseError } from '../../model/errors.js';
import type { Logger } from '../../observe/log.js';
import { applyEdgeFile, type FileDeps } from './apply.js';
import { parseEdgeFile } from './document.js';
import type { Source, SourceStatuses, WatchedFileStatus } from '../source.js';

/** Editors save in bursts (write, rename, chmod): one apply for all of them. */
const SETTLE_MS = 100;

/**
 * The edge file named by `GATEHOUSE_FILE` (setting `file`): applied at start and again whenever it
 * changes. A content that does not validate or conflicts changes nothing; what was applied before
 * keeps serving and the error is logged and shown in status.
 */
export class WatchedFile implements Source {
  readonly name = 'file';
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private lastText: string | undefined;
  private readonly state: WatchedFileStatus;

  constructor(
    path: string,
    private readonly deps: FileDeps,
    private readonly log: Logger,
  ) {
    const file = resolve(path);
    this.state = { file, owner: basename(file) };
  }

  status(): SourceStatuses {
    return { file: this.state };
  }

  async start(): Promise<void> {
    await this.applyNow();
    // The directory, not the file: an editor that saves by renaming replaces the file's inode.
    this.watcher = watch(dirname(this.state.file), (_event, name) => {
      // `..data` and friends: a Kubernetes ConfigMap swaps a symlinked directory, not the file.
      if (name !== null && name !== basename(this.state.file) && !name.startsWith('..')) return;
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.running = this.running.then(() => this.applyNow());
      }, SETTLE_MS);
    });
    this.watcher.on('error', (err) => this.log.error({ err: String(err) }, 'edge file watch failed'));
  }

  async stop(): Promise<void> {
    this.watcher?.close();
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private async applyNow(): Promise<void> {
    const { file, owner } = this.state;
    try {
      let text = await readTextFile(file);
      // A writer that is not atomic (cat >, scp) may still be at it: apply only a settled file.
      for (let i = 0; i < 20; i++) {
        await new Promise((r) => setTimeout(r, 50));
        const again = await readTextFile(file);
        if (again === text) break;
        text = again;
      }
      if (text === this.lastText && !this.state.lastError) return;
      const report = await applyEdgeFile(this.deps, parseEdgeFile(text), owner);
      this.lastText = text;
      delete this.state.lastError;
      this.state.appliedVersion = report.version;
      this.state.appliedAt = new Date().toISOString();
      const changed = report.services.length + report.users.length + report.groups.length;
      if (changed > 0)
        this.log.info(
          { file, version: report.version, services: report.services.map((s) => `${s.op} ${s.name}`) },
          'edge file applied',
        );
    } catch (err) {
      const message =
        err instanceof GatehouseError
          ? [err.message, ...err.issues.slice(1).map((i) => `${i.field}: ${i.message}`)].join('; ')
          : err instanceof Error
            ? err.message
            : String(err);
      this.state.lastError = { message, at: new Date().toISOString() };
      this.log.error({ file, err: message }, 'edge file not applied; what was applied before stays');
    }
  }
}
