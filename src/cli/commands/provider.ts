import { Command } from 'commander';
import type { ProviderList, ProviderView } from '../../api/views/index.js';
import { cliContext, collect, removeCommand, stdinLine } from '../context.js';
import { table } from '../format.js';

export function providerCommand(): Command {
  const cmd = new Command('provider').description('OpenID Connect providers users may sign in through');
  cmd
    .command('add <name>')
    .description('add a provider (authorization code + PKCE; redirect URI: http(s)://<portal>/oidc/callback)')
    .requiredOption('--issuer <url>', 'the issuer URL (as in its /.well-known/openid-configuration)')
    .requiredOption('--client-id <id>', 'client id registered at the provider')
    .option('--client-secret <secret>', 'client secret (or --client-secret-stdin)')
    .option('--client-secret-stdin', 'read the client secret from standard input')
    .option('--label <text>', 'button text: "Sign in with <label>"')
    .option('--scope <scope>', 'scopes to ask for (repeatable; default openid email profile groups)', collect)
    .option('--groups-claim <claim>', 'claim with the groups', 'groups')
    .option('--username-claim <claim>', 'claim that becomes the username', 'preferred_username')
    .option('--map <from=to>', 'provider group → local group (repeatable)', collect)
    .option('--groups-passthrough', 'also grant provider groups named like a local group')
    .action(
      async (
        name: string,
        o: {
          issuer: string;
          clientId: string;
          clientSecret?: string;
          clientSecretStdin?: boolean;
          label?: string;
          scope?: string[];
          groupsClaim: string;
          usernameClaim: string;
          map?: string[];
          groupsPassthrough?: boolean;
        },
        c: Command,
      ) => {
        const ctx = cliContext(c);
        const secret = o.clientSecretStdin ? await stdinLine() : o.clientSecret;
        const groupMap = Object.fromEntries(
          (o.map ?? []).map((m) => {
            const eq = m.indexOf('=');
            return eq > 0 ? [m.slice(0, eq), m.slice(eq + 1)] : [m, ''];
          }),
        );
        const r = await ctx.client.call<ProviderView>('POST', '/api/v1/providers', {
          name,
          issuer: o.issuer,
          client_id: o.clientId,
          client_secret: secret ?? '',
          ...(o.label !== undefined ? { label: o.label } : {}),
          ...(o.scope ? { scopes: o.scope } : {}),
          groups_claim: o.groupsClaim,
          username_claim: o.usernameClaim,
          group_map: groupMap,
          groups_passthrough: !!o.groupsPassthrough,
        });
        ctx.print(`added provider ${r.name} (${r.issuer})`, r);
      },
    );
  cmd
    .command('ls')
    .description('list providers')
    .action(async (_o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<ProviderList>('GET', '/api/v1/providers');
      ctx.print(
        table(
          ['NAME', 'LABEL', 'ISSUER', 'CLIENT ID', 'GROUPS CLAIM'],
          r.providers.map((p) => [p.name, p.label, p.issuer, p.client_id, p.groups_claim]),
        ),
        r,
      );
    });
  removeCommand(cmd, 'rm <name>', 'remove a provider', '/api/v1/providers/', 'removed provider');
  return cmd;
}
