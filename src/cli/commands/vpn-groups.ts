import { Command } from 'commander';
import type { VpnGroupList, VpnGroupView } from '../../api/views/index.js';
import { cliContext, removeCommand } from '../context.js';
import { table } from '../format.js';

const POLICY = 'full | services:A,B | ports:22,80,8000-8100';

/** `gatehouse vpn group …`: device groups and the policy their clients follow (docs/vpn-clients.md). */
export function vpnGroupCommand(): Command {
  const group = new Command('group').description(
    'device groups: a policy that their clients without their own follow',
  );
  group
    .command('add <name>')
    .description('add a device group with a policy')
    .option('--policy <policy>', POLICY, 'full')
    .action(async (name: string, o: { policy: string }, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<VpnGroupView>('POST', '/api/v1/vpn/groups', { name, policy: o.policy });
      ctx.print(`added VPN group ${r.name} (policy ${r.policy})`, r);
    });
  group
    .command('set <name>')
    .description("set a group's policy: every member without its own follows it at once")
    .requiredOption('--policy <policy>', POLICY)
    .action(async (name: string, o: { policy: string }, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<VpnGroupView>('PUT', `/api/v1/vpn/groups/${encodeURIComponent(name)}`, {
        policy: o.policy,
      });
      ctx.print(`VPN group ${r.name}: policy ${r.policy} (${r.clients} client(s))`, r);
    });
  group
    .command('ls')
    .alias('list')
    .description('list device groups with their policy and number of clients')
    .action(async (_o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<VpnGroupList>('GET', '/api/v1/vpn/groups');
      ctx.print(
        table(
          ['NAME', 'POLICY', 'CLIENTS', 'CREATED'],
          r.groups.map((g) => [g.name, g.policy, String(g.clients), g.created_at]),
        ),
        r,
      );
    });
  removeCommand(
    group,
    'rm <name>',
    'remove a device group (refused while clients are in it)',
    '/api/v1/vpn/groups/',
    'removed VPN group',
  );
  return group;
}
