import { Command } from 'commander';
import type { LinkView } from '../../model/link.js';
import type { ProviderView } from '../../model/provider.js';
import { cliContext, stdinLine } from '../context.js';
import { ago, table } from '../format.js';

export function linkCommand(): Command {
  const cmd = new Command('link').description('temporary links that admit a visitor to a service');
  cmd
    .command('create <service>')
    .description('create a link (the URL is shown once)')
    .option('--ttl <duration>', 'how long it works, e.g. 30m, 24h', '24h')
    .option('--max-ips <n>', 'distinct addresses it admits', '1')
    .option('--password <password>', 'ask visitors for this password first')
    .option('--note <text>', 'what the link is for')
    .option('--host <host>', "which of the service's hosts the URL names")
    .action(
      async (
        service: string,
        o: { ttl: string; maxIps: string; password?: string; note?: string; host?: string },
        c: Command,
      ) => {
        const ctx = cliContext(c);
        const maxIps = Number(o.maxIps);
        const r = await ctx.client.call<{ link: LinkView; url: string }>('POST', '/api/v1/links', {
          service,
          ttl: o.ttl,
          max_ips: Number.isFinite(maxIps) ? maxIps : o.maxIps,
          ...(o.password !== undefined ? { password: o.password } : {}),
          ...(o.note !== undefined ? { note: o.note } : {}),
          ...(o.host !== undefined ? { host: o.host } : {}),
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
      const r = await ctx.client.call<{ links: LinkView[] }>('GET', `/api/v1/links${q}`);
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
  cmd
    .command('revoke <id>')
    .description('withdraw a link: the addresses it admitted are refused at once')
    .action(async (id: string, _o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call('DELETE', `/api/v1/links/${encodeURIComponent(id)}`);
      ctx.print(`revoked link ${id}`, r);
    });
  return cmd;
}

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
        });
        ctx.print(`added provider ${r.name} (${r.issuer})`, r);
      },
    );
  cmd
    .command('ls')
    .description('list providers')
    .action(async (_o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<{ providers: ProviderView[] }>('GET', '/api/v1/providers');
      ctx.print(
        table(
          ['NAME', 'LABEL', 'ISSUER', 'CLIENT ID', 'GROUPS CLAIM'],
          r.providers.map((p) => [p.name, p.label, p.issuer, p.client_id, p.groups_claim]),
        ),
        r,
      );
    });
  cmd
    .command('rm <name>')
    .description('remove a provider')
    .action(async (name: string, _o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call('DELETE', `/api/v1/providers/${encodeURIComponent(name)}`);
      ctx.print(`removed provider ${name}`, r);
    });
  return cmd;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];
