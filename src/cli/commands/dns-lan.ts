import { Command } from 'commander';
import type { LanDnsView } from '../../api/views/index.js';
import { GatehouseError } from '../../model/errors.js';
import { cliContext } from '../context.js';
import { ago, table } from '../format.js';

/** `gatehouse dns lan`: what the LAN resolver should answer for each served host, and what it does. */
export function dnsLanCommand(): Command {
  return new Command('lan')
    .description('split-horizon DNS: what the LAN resolver should answer for each host, and what it answers')
    .option('--sync', 'sync the resolver now, then show it')
    .action(async (o: { sync?: boolean }, c: Command) => {
      const ctx = cliContext(c);
      const r = o.sync
        ? await ctx.client.call<LanDnsView>('POST', '/api/v1/dns/lan/sync')
        : await ctx.client.call<LanDnsView>('GET', '/api/v1/dns/lan');
      ctx.print(lanText(r), r);
      // Out of sync is worth a non-zero exit for scripts (the answer is printed first).
      if (r.mode !== 'off' && !r.in_sync)
        throw new GatehouseError('lan_dns_out_of_sync', 'the LAN resolver does not answer as it should');
    });
}

export function lanText(r: LanDnsView): string {
  if (r.mode === 'off') return 'LAN DNS: off (set lan_dns to unbound or dnsmasq; see docs/dns.md)';
  const source = { setting: 'lan_dns_address', 'lan-nodes': 'the lan edge nodes', none: 'none known' }[
    r.address_source
  ];
  const lines = [
    `resolver:   ${r.mode}, answering at ${r.server}`,
    ...(r.managed
      ? [
          `managed:    ${r.managed.running ? `running (pid ${r.managed.pid ?? '-'})` : 'NOT running'}, listening on ${r.managed.listen.join(', ')}, ${r.managed.restarts} restart(s)${r.managed.error ? ` (${r.managed.error})` : ''}`,
        ]
      : []),
    `addresses:  ${r.addresses.join(', ') || '-'} (from ${source})`,
    `last sync:  ${r.last_sync ? `${ago(r.last_sync.at)}, ${r.last_sync.changed} name(s) changed` : 'none yet'}`,
    ...(r.last_error ? [`last error: ${r.last_error.message} (${ago(r.last_error.at)})`] : []),
    `in sync:    ${r.in_sync ? 'yes' : 'no'}`,
    '',
    r.hosts.length
      ? table(
          ['HOST', 'SERVICE', 'SHOULD ANSWER', 'ANSWERS', 'OK'],
          r.hosts.map((h) => [
            h.name,
            h.service,
            h.expected.join(' '),
            h.answered ? h.answered.join(' ') || '(nothing)' : `(${h.error ?? 'no answer'})`,
            h.ok ? 'yes' : 'NO',
          ]),
        )
      : 'no hosts to answer',
  ];
  if (r.skipped.length)
    lines.push(
      '',
      table(
        ['LEFT TO THE USUAL ANSWER', 'SERVICE', 'WHY'],
        r.skipped.map((s) => [s.name, s.service, s.reason]),
      ),
    );
  return lines.join('\n');
}
