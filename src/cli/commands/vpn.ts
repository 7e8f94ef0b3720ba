import { writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import type { VpnClientAdded, VpnClientList } from '../../api/views/index.js';
import { vpnGroupCommand } from './vpn-groups.js';
import { cliContext, removeCommand } from '../context.js';
import { table } from '../format.js';
import { loadQr } from '../../gate/totp.js';

const bytes = (n: number) =>
  n >= 1 << 30
    ? `${(n / 2 ** 30).toFixed(1)} GiB`
    : n >= 1 << 20
      ? `${(n / 2 ** 20).toFixed(1)} MiB`
      : `${n} B`;

/** `gatehouse vpn client …`: VPN clients (docs/vpn-clients.md). */
export function vpnCommand(): Command {
  const cmd = new Command('vpn').description('the client VPN: devices with a WireGuard config');
  const client = cmd.command('client').description('VPN clients: add (config shown once), list, revoke');
  client
    .command('add <name>')
    .description('add a VPN client: prints its WireGuard config (with its private key) this once')
    .option('--group <group>', 'its device group')
    .option('--expires <duration>', 'how long it may connect: 30d, 12h, 90m (default: until revoked)')
    .option(
      '--policy <policy>',
      "full | services:A,B | ports:22,80,8000-8100 (default: its group's, else full)",
    )
    .option('--dns <ip>', 'a DNS server for its config')
    .option(
      '--kill-switch',
      'the config drops what leaves outside the tunnel while it is up (Linux wg-quick)',
    )
    .option('--qr', 'also print the config as a QR code (scan it with the WireGuard app)')
    .option('--png <file>', 'also write the QR code as a PNG file (0600)')
    .action(
      async (
        name: string,
        o: {
          group?: string;
          expires?: string;
          policy?: string;
          dns?: string;
          killSwitch?: boolean;
          qr?: boolean;
          png?: string;
        },
        c: Command,
      ) => {
        const ctx = cliContext(c);
        const r = await ctx.client.call<VpnClientAdded>('POST', '/api/v1/vpn/clients', {
          name,
          ...(o.policy ? { policy: o.policy } : {}),
          ...(o.killSwitch ? { kill_switch: true } : {}),
          ...(o.group ? { group: o.group } : {}),
          ...(o.expires ? { expires: o.expires } : {}),
          ...(o.dns ? { dns: o.dns } : {}),
        });
        if (o.png)
          await writeFile(
            o.png,
            await (await loadQr()).toBuffer(r.config, { type: 'png', errorCorrectionLevel: 'M' }),
            {
              mode: 0o600,
            },
          );
        const qr = o.qr
          ? `\n${await (await loadQr()).toString(r.config, { type: 'terminal', small: true })}`
          : '';
        const until = r.client.expires_at ? `, until ${r.client.expires_at}` : '';
        ctx.print(
          `added VPN client ${r.client.name} (tunnel address ${r.client.address}, policy ${r.client.policy}${r.client.policy_from === 'group' ? ` from group ${r.client.group ?? ''}` : ''}${until}).\n` +
            `Its config (the private key is shown only now; it is not stored):\n\n${r.config}${qr}`,
          r,
        );
      },
    );
  client
    .command('ls')
    .alias('list')
    .description('list VPN clients with their policy, last handshake, bytes and expiry')
    .action(async (_o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<VpnClientList>('GET', '/api/v1/vpn/clients');
      ctx.print(
        table(
          ['NAME', 'GROUP', 'ADDRESS', 'POLICY', 'LAST HANDSHAKE', 'RX', 'TX', 'EXPIRES'],
          r.clients.map((v) => [
            v.name,
            v.group ?? '-',
            v.address,
            v.policy_from === 'group' ? `${v.policy} (group)` : v.policy,
            v.last_handshake ?? 'never',
            bytes(v.rx_bytes),
            bytes(v.tx_bytes),
            v.expired ? `expired ${v.expires_at ?? ''}` : (v.expires_at ?? 'never'),
          ]),
        ),
        r,
      );
    });
  removeCommand(
    client,
    'revoke <name>',
    'revoke a VPN client (its servers drop its peer at once)',
    '/api/v1/vpn/clients/',
    'revoked VPN client',
  );
  cmd.addCommand(vpnGroupCommand());
  return cmd;
}
