import { Command } from 'commander';
import { invalid } from '../../model/errors.js';
import type { Rollback, SnapshotDiff, SnapshotList, SnapshotView } from '../../api/views/index.js';
import { cliContext } from '../context.js';
import { ago, table } from '../format.js';

export function snapshotCommand(): Command {
  const cmd = new Command('snapshot').description('list, diff and roll back config versions');

  cmd
    .command('ls')
    .description('list snapshots, newest first')
    .option('-n, --limit <n>', 'how many', '20')
    .action(async (o: { limit: string }, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<SnapshotList>(
        'GET',
        `/api/v1/snapshots?limit=${encodeURIComponent(o.limit)}`,
      );
      ctx.print(
        table(
          ['VERSION', 'WHEN', 'SOURCE', 'ACTOR', 'CHANGE'],
          r.snapshots.map((s) => [s.version, ago(s.at), s.source, s.actor, s.reason]),
        ),
        r,
      );
    });

  cmd
    .command('show <version>')
    .description('show the services and config hash of a snapshot')
    .action(async (version: string, _o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<SnapshotView>(
        'GET',
        `/api/v1/snapshots/${encodeURIComponent(version)}`,
      );
      ctx.print(
        `version ${version}, config ${r.hash.slice(0, 12)}\nservices: ${r.services.map((s) => s.service.name).join(', ') || '(none)'}`,
        r,
      );
    });

  cmd
    .command('diff <from> [to]')
    .description('what changed between two versions (to defaults to the current one)')
    .action(async (from: string, to: string | undefined, _o, c: Command) => {
      versionArg('from', from);
      if (to !== undefined) versionArg('to', to);
      const ctx = cliContext(c);
      const q = `from=${encodeURIComponent(from)}${to ? `&to=${encodeURIComponent(to)}` : ''}`;
      const r = await ctx.client.call<SnapshotDiff>('GET', `/api/v1/snapshots/diff?${q}`);
      ctx.print(
        r.changes.length
          ? r.changes.map((d) => d.patch).join('\n')
          : `no differences between ${r.from} and ${r.to}`,
        r,
      );
    });

  cmd
    .command('rollback <version>')
    .description('restore the registry as it was at <version>, as a new version')
    .option('--force', 'allow a rollback that removes every route')
    .action(async (version: string, o: { force?: boolean }, c: Command) => {
      versionArg('version', version);
      const ctx = cliContext(c);
      const r = await ctx.client.call<Rollback>(
        'POST',
        `/api/v1/snapshots/${encodeURIComponent(version)}/rollback`,
        {
          force: !!o.force,
          wait: true,
        },
      );
      ctx.print(
        `restored version ${version} as version ${r.version} (${r.changed.length} services changed); live on the proxy`,
        r,
      );
    });
  return cmd;
}

/** A version argument, checked here: the API would name its own query field (`query.from`). */
function versionArg(name: string, value: string): void {
  if (!/^[0-9]+$/.test(value))
    throw invalid(
      `<${name}>`,
      `expected a version number, as \`gatehouse snapshot ls\` lists them (got ${JSON.stringify(value)})`,
    );
}
