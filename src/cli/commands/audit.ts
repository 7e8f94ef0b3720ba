import { Command } from 'commander';
import type { AuditList } from '../../api/views/index.js';
import { cliContext } from '../context.js';
import { ago, table } from '../format.js';

/** `gatehouse audit`: who changed what through the API, newest first. */
export function auditCommand(): Command {
  return new Command('audit')
    .description('show the audit log: changes made through the API and refused attempts')
    .option('-n, --limit <n>', 'how many', '50')
    .option('--actor <name>', 'only this user ("admin": the admin token, "cli:uid<N>": the local socket)')
    .action(async (o: { limit: string; actor?: string }, c: Command) => {
      const ctx = cliContext(c);
      const q = new URLSearchParams({ limit: o.limit, ...(o.actor ? { actor: o.actor } : {}) });
      const r = await ctx.client.call<AuditList>('GET', `/api/v1/audit?${q}`);
      ctx.print(
        table(
          ['WHEN', 'ACTOR', 'VIA', 'FROM', 'CHANGE', 'STATUS'],
          r.entries.map((e) => [ago(e.at), e.actor, e.via, e.ip, `${e.method} ${e.path}`, e.status]),
        ),
        r,
      );
    });
}
