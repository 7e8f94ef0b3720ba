import { Command } from 'commander';
import type { ApiKeyCreated, ApiKeyList } from '../../api/views/index.js';
import { cliContext, removeCommand } from '../context.js';
import { ago, table } from '../format.js';

export function apiKeyCommand(): Command {
  const cmd = new Command('api-key').description(
    'API keys that let scripts and apps pass routes with access.api_keys',
  );
  cmd
    .command('create <name>')
    .description('create a key (it is shown once)')
    .requiredOption('--service <names>', 'the services it opens, comma-separated')
    .option(
      '--user <username>',
      'act as this user (their identity headers; their groups where a route names groups)',
    )
    .option('--ttl <lifetime>', 'how long it works, e.g. 12h, 90d (default: until revoked)')
    .action(async (name: string, o: { service: string; user?: string; ttl?: string }, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<ApiKeyCreated>('POST', '/api/v1/api-keys', {
        name,
        services: o.service
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
        ...(o.user !== undefined ? { user: o.user } : {}),
        ...(o.ttl !== undefined ? { ttl: o.ttl } : {}),
      });
      ctx.print(
        `${r.token}\n(key ${r.key.id}; shown only now: send it as "Authorization: Bearer <key>"${
          r.key.expires_at ? `, expires ${r.key.expires_at}` : ''
        })`,
        r,
      );
    });
  cmd
    .command('ls')
    .description('list keys (never the keys themselves)')
    .action(async (_o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<ApiKeyList>('GET', '/api/v1/api-keys');
      ctx.print(
        table(
          ['ID', 'NAME', 'SERVICES', 'USER', 'STATE', 'EXPIRES', 'CREATED'],
          r.keys.map((k) => [
            k.id,
            k.name,
            k.services.join(','),
            k.user ?? '-',
            k.state,
            k.expires_at ?? 'never',
            ago(k.created_at),
          ]),
        ),
        r,
      );
    });
  removeCommand(
    cmd,
    'revoke <id>',
    'revoke a key: every edge refuses it at once',
    '/api/v1/api-keys/',
    'revoked API key',
  );
  return cmd;
}
