import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import YAML from 'yaml';
import { GatehouseError } from '../../model/errors.js';
import type { ServiceRecord } from '../../model/service.js';
import { cliContext, collect } from '../context.js';
import { ago, table } from '../format.js';

export function serviceCommand(): Command {
  const cmd = new Command('service').description('list, show, add and remove services');

  cmd
    .command('ls')
    .description('list services')
    .action(async (_o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<{ services: ServiceRecord[] }>('GET', '/api/v1/services');
      ctx.print(
        table(
          ['NAME', 'HOSTS', 'ROUTES', 'TCP', 'SOURCE', 'UPDATED'],
          r.services.map(({ service: s, meta }) => [
            s.name,
            s.hosts.join(',') || '-',
            s.routes.map((x) => x.path).join(' ') || '-',
            s.tcp.map((t) => t.port).join(' ') || '-',
            meta.owner ? `${meta.source}:${meta.owner}` : meta.source,
            ago(meta.updated_at),
          ]),
        ),
        r,
      );
    });

  cmd
    .command('show <name>')
    .description('show one service as YAML')
    .action(async (name: string, _o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<ServiceRecord>('GET', `/api/v1/services/${encodeURIComponent(name)}`);
      const owner = r.meta.owner ? ` (${r.meta.owner})` : '';
      ctx.print(
        `# source: ${r.meta.source}${owner}, updated ${r.meta.updated_at}\n${YAML.stringify(r.service)}`,
        r,
      );
    });

  cmd
    .command('add')
    .description('create or replace a service, from a YAML/JSON file or from flags')
    .option('-f, --file <path>', 'service definition (YAML or JSON); "-" reads stdin')
    .option('--name <name>', 'service name')
    .option('--host <host>', 'host name (repeatable)', collect)
    .option('--upstream <addr>', 'upstream IP:port or http(s)://IP:port (repeatable)', collect)
    .option('--path <prefix>', 'path prefix', '/')
    .option('--tcp-port <port>', 'instead of HTTP: a TCP port to route to the upstreams')
    .action(
      async (
        o: {
          file?: string;
          name?: string;
          host?: string[];
          upstream?: string[];
          path: string;
          tcpPort?: string;
        },
        c: Command,
      ) => {
        const ctx = cliContext(c);
        let spec: unknown;
        if (o.file) {
          const text = o.file === '-' ? await readStdin() : await readFile(o.file, 'utf8');
          try {
            spec = YAML.parse(text);
          } catch (err) {
            throw new GatehouseError('invalid', `${o.file}: ${(err as Error).message}`);
          }
        } else {
          if (!o.name)
            throw new GatehouseError('invalid', 'give --file, or --name with --host and --upstream');
          spec = o.tcpPort
            ? { name: o.name, tcp: [{ port: Number(o.tcpPort), upstreams: o.upstream ?? [] }] }
            : { name: o.name, hosts: o.host ?? [], routes: [{ path: o.path, upstreams: o.upstream ?? [] }] };
        }
        const name = (spec as { name?: unknown } | null)?.name;
        if (typeof name !== 'string' || name === '') throw new GatehouseError('invalid', 'name: required');
        const r = await ctx.client.call<{ version: number; applied?: { version: number } }>(
          'PUT',
          `/api/v1/services/${encodeURIComponent(name)}?wait=true`,
          spec,
        );
        ctx.print(`service ${name} saved as version ${r.version}; live on the proxy`, r);
      },
    );

  cmd
    .command('rm <name>')
    .description('remove a service')
    .option('--force', 'allow removing the last route')
    .action(async (name: string, o: { force?: boolean }, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<{ version: number }>(
        'DELETE',
        `/api/v1/services/${encodeURIComponent(name)}?wait=true${o.force ? '&force=true' : ''}`,
      );
      ctx.print(`service ${name} removed (version ${r.version})`, r);
    });
  return cmd;
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}
