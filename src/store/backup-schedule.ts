import { mkdirSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { GatehouseError, invalid } from '../model/errors.js';
import type { Settings } from '../model/settings.js';
import { durationMs } from '../model/values.js';
import type { Logger } from '../observe/log.js';
import { VERSION } from '../observe/version.js';
import { createBackup } from './backup.js';
import type { Db } from './db.js';

export interface BackupRun {
  at: string;
  file?: string;
  size?: number;
  error?: string;
}

export interface BackupFile {
  name: string;
  size: number;
  at: string;
}

/** Names scheduled and API backups get; the API accepts only these (no path traversal). */
export const BACKUP_NAME = /^gatehouse-[0-9TZ-]+\.ghbk$/;

/** The backup service of each running Gatehouse, found by its settings object (for the API). */
const services = new WeakMap<Settings, BackupService>();
export const backupServiceFor = (s: Settings): BackupService | undefined => services.get(s);

/** Writes backups now and on a schedule, keeps `backup_keep` of them, remembers the last run. */
export class BackupService {
  last: BackupRun | undefined;
  readonly dir: string;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly dataDir: string,
    private readonly settings: Settings,
    private readonly log: Logger,
  ) {
    this.dir = settings.backup_dir ?? join(dataDir, 'backups');
    services.set(settings, this);
  }

  /**
   * Starts the schedule; refuses an interval without a passphrase. Returns the stop function.
   * Among replicas, only the leader writes scheduled backups (`leading`).
   */
  static start(
    db: Db,
    dataDir: string,
    settings: Settings,
    log: Logger,
    leading: () => boolean = () => true,
  ): () => void {
    const svc = new BackupService(db, dataDir, settings, log);
    if (settings.backup_interval !== undefined) {
      if (!process.env.GATEHOUSE_BACKUP_PASSPHRASE)
        throw invalid(
          'backup_interval',
          'backup_interval is set, but GATEHOUSE_BACKUP_PASSPHRASE is not: scheduled backups need a passphrase',
        );
      const ms = durationMs(settings.backup_interval);
      svc.timer = setInterval(() => {
        if (leading()) void svc.run().catch(() => undefined);
      }, ms);
      svc.timer.unref();
    }
    return () => {
      if (svc.timer) clearInterval(svc.timer);
    };
  }

  list(): BackupFile[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    return names
      .filter((n) => BACKUP_NAME.test(n))
      .sort()
      .reverse()
      .map((name) => {
        const st = statSync(join(this.dir, name));
        return { name, size: st.size, at: st.mtime.toISOString() };
      });
  }

  /** Writes one backup now and prunes old ones; returns its name. */
  async run(): Promise<string> {
    const passphrase = process.env.GATEHOUSE_BACKUP_PASSPHRASE;
    const at = new Date().toISOString();
    if (!passphrase) {
      const error = 'GATEHOUSE_BACKUP_PASSPHRASE is not set: no backup made';
      this.last = { at, error };
      throw new GatehouseError('backup_passphrase', error, 409);
    }
    const name = `gatehouse-${at.replace(/[:.]/g, '-')}.ghbk`;
    const file = join(this.dir, name);
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      await createBackup(this.db, this.dataDir, file, passphrase, VERSION);
      const size = statSync(file).size;
      this.last = { at, file: name, size };
      this.log.info({ file, size }, 'backup written');
      for (const old of this.list().slice(this.settings.backup_keep)) unlinkSync(join(this.dir, old.name));
      return name;
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      this.last = { at, error };
      this.log.error({ err: error }, 'backup failed');
      throw err;
    }
  }
}
