import { basename } from 'node:path';
import { Command } from 'commander';
import { fromZod } from '../../model/errors.js';
import type { ApplyReport } from '../../api/views/index.js';
import { fileOwnerSchema } from '../../sources/file/document.js';
import { readTextFile } from '../../sources/file/read.js';
import { cliContext } from '../context.js';

/** `gatehouse apply -f edge.yaml`: the declarative file, as one change (or its diff with --dry-run). */
export function applyCommand(): Command {
  return new Command('apply')
    .description(
      'apply an edge file (services, users, groups, templates) as one change; it owns what it creates',
    )
    .requiredOption('-f, --file <path>', 'the edge file (YAML)')
    .option('--dry-run', 'print what would change, change nothing')
    .option('--owner <name>', "what its records are owned by (default: the file's name)")
    .action(async (o: { file: string; dryRun?: boolean; owner?: string }, c: Command) => {
      const ctx = cliContext(c);
      const owner = fileOwnerSchema.safeParse(o.owner ?? basename(o.file));
      if (!owner.success) throw fromZod(owner.error, 'owner');
      const document = await readTextFile(o.file);
      const r = await ctx.client.call<ApplyReport>('POST', '/api/v1/apply', {
        owner: owner.data,
        document,
        dry_run: !!o.dryRun,
      });
      ctx.print(describe(r), r);
    });
}

function describe(r: ApplyReport): string {
  const lines: string[] = [];
  for (const s of r.services) lines.push(r.dry_run ? s.patch.trimEnd() : `${s.op} service ${s.name}`);
  for (const g of r.groups) lines.push(`${g.op} group ${g.name}`);
  for (const u of r.users) lines.push(`${u.op} user ${u.username}`);
  const n = r.services.length + r.groups.length + r.users.length;
  if (n === 0) lines.push(`${r.owner}: nothing to change`);
  else
    lines.push(
      r.dry_run
        ? `${r.owner}: ${n} change(s) would be made (dry run)`
        : `${r.owner}: applied as version ${r.version}`,
    );
  return lines.join('\n');
}
