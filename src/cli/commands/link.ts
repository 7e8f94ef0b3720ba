import { Command } from 'commander';
import type { LinkCreated, LinkList } from '../../api/views/index.js';
import { cliContext, removeCommand } from '../context.js';
import { ago, table } from '../format.js';

export function linkCommand(): Command {
  const cmd = new Command('link').description('temporary links that admit a visitor to a service');
  cmd
    .command('create <service>')
    .description('create a link (the URL is shown once)')
    .option('--ttl <duration>', 'how long it works, e.g. 30m, 24h (default: 24h)')
    .option('--max-ips <n>', 'distinct addresses it admits', '1')
    .option('--password <password>', 'ask visitors for this password first')
    .option('--note <text>', 'what the link is for')
    .option('--host <host>', "which of the service's hosts the URL names")
    .option('--bandwidth <rate>', 'bytes a second to each connection of an admitted address, e.g. 512k, 10m')
    .action(
      async (
        service: string,
        o: {
          ttl?: string;
          maxIps: string;
          password?: string;
          note?: string;
          host?: string;
          bandwidth?: string;
        },
        c: Command,
      ) => {
        const ctx = cliContext(c);
        const maxIps = Number(o.maxIps);
        const r = await ctx.client.call<LinkCreated>('POST', '/api/v1/links', {
          service,
          // Unset: the schema's default applies, the same one the API and the web UI use.
          ...(o.ttl !== undefined ? { ttl: o.ttl } : {}),
          max_ips: Number.isFinite(maxIps) ? maxIps : o.maxIps,
          ...(o.password !== undefined ? { password: o.password } : {}),
          ...(o.note !== undefined ? { note: o.note } : {}),
          ...(o.host !== undefined ? { host: o.host } : {}),
          ...(o.bandwidth !== undefined ? { bandwidth: o.bandwidth } : {}),
        });
        ctx.print(`${r.url}\n(link ${r.link.id}, expires ${r.link.expires_at})`, r);
      },
    );
  cmd
    .command('ls')
    .description('list links')
    .option('--service <name>', 'only links to this service')
    .action(async (o: { service?: string }, c: Command) => {
      const ctx = cliContext(c);
      const q = o.service ? `?service=${encodeURIComponent(o.service)}` : '';
      const r = await ctx.client.call<LinkList>('GET', `/api/v1/links${q}`);
      ctx.print(
        table(
          ['ID', 'SERVICE', 'STATE', 'IPS', 'EXPIRES', 'CREATED', 'NOTE'],
          r.links.map((l) => [
            l.id,
            l.service,
            l.state,
            `${l.ips.length}/${l.max_ips}`,
            l.expires_at,
            ago(l.created_at),
            l.note || '-',
          ]),
        ),
        r,
      );
    });
  removeCommand(
    cmd,
    'revoke <id>',
    'withdraw a link: the addresses it admitted are refused at once',
    '/api/v1/links/',
    'revoked link',
  );
  return cmd;
}
