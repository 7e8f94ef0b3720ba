import { conflict, notFound } from '../model/errors.js';
import type { DnsProviderInput, DnsProviderView } from '../model/dns.js';
import type { Sealer } from '../gate/secrets.js';
import type { Database, Db } from '../store/db.js';
import { Rfc2136Provider, type DnsProvider } from './rfc2136.js';

type Row = Database['dns_providers'];

/** DNS providers (their secrets sealed), and which one answers for a name. */
export class DnsProviders {
  constructor(
    private readonly db: Db,
    private readonly sealer: Sealer,
  ) {}

  async create(input: DnsProviderInput): Promise<DnsProviderView> {
    const exists = await this.db
      .selectFrom('dns_providers')
      .select('name')
      .where('name', '=', input.name)
      .executeTakeFirst();
    if (exists) throw conflict('name', `DNS provider ${input.name} exists`);
    const row: Row = {
      name: input.name,
      type: input.type,
      zone: input.zone,
      config: JSON.stringify({
        server: input.server,
        tsig_name: input.tsig_name,
        tsig_algorithm: input.tsig_algorithm,
      }),
      secret_sealed: this.sealer.seal(input.tsig_secret),
      created_at: new Date().toISOString(),
    };
    await this.db.insertInto('dns_providers').values(row).execute();
    return view(row);
  }

  async list(): Promise<DnsProviderView[]> {
    return (await this.db.selectFrom('dns_providers').selectAll().orderBy('name').execute()).map(view);
  }

  async remove(name: string): Promise<void> {
    const r = await this.db.deleteFrom('dns_providers').where('name', '=', name).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw notFound(`DNS provider ${name}`);
  }

  /** The provider whose zone holds `name` (the longest zone wins), if any. */
  async forName(name: string): Promise<DnsProvider | undefined> {
    const bare = name.replace(/^\*\./, '');
    const rows = await this.db.selectFrom('dns_providers').selectAll().execute();
    const row = rows
      .filter((r) => bare === r.zone || bare.endsWith(`.${r.zone}`))
      .sort((a, b) => b.zone.length - a.zone.length)[0];
    if (!row) return undefined;
    const c = JSON.parse(row.config) as { server: string; tsig_name: string; tsig_algorithm: string };
    return new Rfc2136Provider({
      zone: row.zone,
      server: c.server,
      tsigName: c.tsig_name,
      tsigAlgorithm: c.tsig_algorithm,
      tsigSecret: this.sealer.open(row.secret_sealed),
    });
  }
}

function view(r: Row): DnsProviderView {
  const c = JSON.parse(r.config) as { server: string; tsig_name: string; tsig_algorithm: string };
  return {
    name: r.name,
    type: r.type,
    zone: r.zone,
    server: c.server,
    tsig_name: c.tsig_name,
    tsig_algorithm: c.tsig_algorithm,
    created_at: r.created_at,
  };
}
