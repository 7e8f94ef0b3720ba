import { Command } from 'commander';
import type { DnsRecordsList } from '../../api/views/index.js';
import { cliContext } from '../context.js';
import { table } from '../format.js';

const sets = (xs: DnsRecordsList['records'][number]['desired']): string =>
  xs.map((s) => `${s.type} ${s.values.join(',')}`).join('; ') || '-';

/** `gatehouse dns records`: the external records of every host, what they should be and what they are. */
export function dnsRecordsCommand(): Command {
  return new Command('records')
    .description(
      'external DNS records: per host, what it should have at its provider, what it has, and its state',
    )
    .option('--problems', 'only hosts in conflict or error')
    .action(async (o: { problems?: boolean }, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<DnsRecordsList>('GET', '/api/v1/dns/records');
      const rows = o.problems
        ? r.records.filter((x) => x.state === 'conflict' || x.state === 'error')
        : r.records;
      if (!r.enabled) {
        ctx.print('external records are off (set dns_records: on, see docs/dns.md)', r);
        return;
      }
      const head = `target: ${r.target.type === 'none' ? 'none' : r.target.values.join(', ')}   owner: ${r.owner}`;
      ctx.print(
        [
          head,
          table(
            ['HOST', 'STATE', 'SHOULD BE', 'IS', 'MESSAGE'],
            rows.map((x) => [x.host, x.state, sets(x.desired), sets(x.actual), x.message || undefined]),
          ),
        ].join('\n'),
        { ...r, records: rows },
      );
    });
}
