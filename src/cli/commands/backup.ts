import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { GatehouseError, invalid } from '../../model/errors.js';
import { VERSION } from '../../observe/version.js';
import { restoreBackupToPostgres } from '../../store/backup-restore-pg.js';
import { createBackup, restoreBackup } from '../../store/backup.js';
import { dbFile, runningInstance } from '../../store/data-dir.js';
import { openDatabase } from '../../store/open.js';
import { redactUrl } from '../../store/postgres.js';
import { settingsFor, type GlobalOptions } from '../context.js';

/** The passphrase from a file or the environment, never an argument (it would show in `ps`). */
export function backupPassphrase(file: string | undefined): string {
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      throw invalid('passphrase-file', `cannot read ${file}`);
    }
    const p = text.split(/\r?\n/)[0] ?? '';
    if (!p) throw invalid('passphrase-file', `${file} is empty`);
    return p;
  }
  const env = process.env.GATEHOUSE_BACKUP_PASSPHRASE;
  if (!env)
    throw invalid(
      'GATEHOUSE_BACKUP_PASSPHRASE',
      'a backup needs a passphrase: set GATEHOUSE_BACKUP_PASSPHRASE or pass --passphrase-file FILE',
    );
  return env;
}

function dataDirOf(c: Command): string {
  const o = c.optsWithGlobals<GlobalOptions>();
  return o.dataDir ?? process.env.GATEHOUSE_DATA_DIR ?? settingsFor(o).data_dir;
}

const progress = (what: string, rows: number): void => {
  process.stderr.write(`${what}: ${rows} rows\n`);
};

export function backupCommand(): Command {
  const cmd = new Command('backup').description('encrypted backups of the whole installation');

  cmd
    .command('create')
    .description('write a backup (works while Gatehouse runs)')
    .option('-o, --output <file>', 'where to write it')
    .option(
      '--passphrase-file <file>',
      'read the passphrase from this file (else GATEHOUSE_BACKUP_PASSPHRASE)',
    )
    .action(async (o: { output?: string; passphraseFile?: string }, c: Command) => {
      const passphrase = backupPassphrase(o.passphraseFile);
      const dataDir = dataDirOf(c);
      const out = resolve(o.output ?? `gatehouse-${new Date().toISOString().replace(/[:.]/g, '-')}.ghbk`);
      // The installation's own store: PostgreSQL when database_url is set, else the data dir's file.
      const { database_url } = settingsFor(c.optsWithGlobals<GlobalOptions>());
      const db = await openDatabase({ data_dir: dataDir, database_url });
      try {
        await createBackup(db, dataDir, out, passphrase, VERSION, progress);
      } finally {
        await db.destroy();
      }
      console.log(out);
    });

  cmd
    .command('restore <file>')
    .description(
      'restore a backup into an empty installation (Gatehouse stopped): the data dir, or the empty PostgreSQL database database_url names',
    )
    .option(
      '--passphrase-file <file>',
      'read the passphrase from this file (else GATEHOUSE_BACKUP_PASSPHRASE)',
    )
    .action(async (file: string, o: { passphraseFile?: string }, c: Command) => {
      const passphrase = backupPassphrase(o.passphraseFile);
      const dataDir = dataDirOf(c);
      const { database_url } = settingsFor(c.optsWithGlobals<GlobalOptions>());
      const running = runningInstance(dataDir);
      if (running)
        throw new GatehouseError(
          'restore_running',
          `Gatehouse runs on ${dataDir} (pid ${running.pid}): stop it before restoring`,
          409,
        );
      let buf: Buffer;
      try {
        buf = readFileSync(file);
      } catch {
        throw invalid('file', `cannot read ${file}`);
      }
      // With database_url set: into that (empty) PostgreSQL database, data dir files into the data dir.
      const head = database_url
        ? await restoreBackupToPostgres(buf, passphrase, database_url, dataDir, progress)
        : await restoreBackup(buf, passphrase, dbFile(dataDir), dataDir, progress);
      const into = database_url ? `${redactUrl(database_url)} (data dir ${dataDir})` : join(dataDir);
      console.log(`restored a backup of Gatehouse ${head.gatehouse} from ${head.created_at} into ${into}`);
    });

  return cmd;
}
