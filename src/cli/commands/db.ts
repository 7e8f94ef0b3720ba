import { Command } from 'commander';
import { storeConfigHash } from '../../compile/store-hash.js';
import { copyStore, type CopyReport } from '../../store/copy.js';
import type { GlobalOptions } from '../context.js';

const SEALED_NOTE =
  'Sealed values (TOTP secrets, provider and DNS secrets, certificate keys, generated keys) were copied ' +
  "as they are: start Gatehouse on the target with the same data key (the data dir's data.key, or the same GATEHOUSE_SECRET).";

function summary(r: CopyReport): string {
  return [
    `copied ${r.rows} rows in ${r.tables.length} tables from ${r.from} to ${r.to}`,
    `checked: every table's row count, and the compiled config hash ${r.hash} on both`,
    SEALED_NOTE,
  ].join('\n');
}

/** `gatehouse db …`: the store itself (moving it between SQLite and PostgreSQL). */
export function dbCommand(): Command {
  const cmd = new Command('db').description('the store: move an installation between SQLite and PostgreSQL');
  cmd
    .command('copy')
    .description(
      'copy a whole store into an empty database (Gatehouse stopped): --from/--to take postgres://…, sqlite:PATH or a file path',
    )
    .requiredOption('--from <url>', 'the store to copy (left unchanged)')
    .requiredOption('--to <url>', 'an empty database: created and migrated by the copy')
    .action(async (o: { from: string; to: string }, c: Command) => {
      const json = !!c.optsWithGlobals<GlobalOptions>().json;
      const report = await copyStore(o.from, o.to, storeConfigHash, (table, rows) => {
        if (!json) process.stderr.write(`${table}: ${rows} row${rows === 1 ? '' : 's'}\n`);
      });
      if (json)
        console.log(JSON.stringify({ ...report, sealed: 'copied as they are (same data key)' }, null, 2));
      else console.log(summary(report));
    });
  return cmd;
}
