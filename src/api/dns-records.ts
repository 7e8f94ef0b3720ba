import type { FastifyInstance } from 'fastify';
import type { ApiContext } from './context.js';
import type { DnsRecordsList } from './views/dns-records.js';

/** External DNS records under /api/v1/dns/records: per host, what it should have and what it has. */
export async function dnsRecordRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const records = ctx.externalRecords;
  app.get('/dns/records', async (): Promise<DnsRecordsList> => {
    const leading = ctx.leader?.leading ?? true;
    if (!records)
      return {
        enabled: false,
        leading,
        owner: '',
        target: { type: 'none', values: [] },
        last_full_pass: null,
        records: [],
      };
    return records.view(leading);
  });
}
