import { conflict, notFound } from '../model/errors.js';
import type { DnsProviderInput, DnsProviderView } from '../model/dns.js';
import type { Sealer } from '../store/secrets.js';
import type { Database, Db } from '../store/db.js';
import { Rfc2136Provider, type DnsProvider } from './rfc2136.js';
import type { RecordProvider } from './records.js';
import { CloudflareProvider, HetznerProvider } from './http-providers.js';

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
    const { name, type, zone, ...rest } = input;
    const secret = input.type === 'rfc2136' ? input.tsig_secret : input.api_token;
    const config = Object.fromEntries(
      Object.entries(rest).filter(([k]) => k !== 'tsig_secret' && k !== 'api_token'),
    );
    const row: Row = {
      name,
      type,
      zone,
      config: JSON.stringify(config),
      secret_sealed: this.sealer.seal(secret),
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

  /**
   * The provider whose zone holds `name`, when it can manage records there (external records);
   * undefined when no zone holds it or its provider only serves DNS-01.
   */
  async recordsFor(name: string): Promise<RecordProvider | undefined> {
    const p = await this.forName(name);
    return p && isRecordProvider(p) ? p : undefined;
  }

  /** The provider whose zone holds `name` (the longest zone wins), if any. */
  async forName(name: string): Promise<DnsProvider | undefined> {
    const bare = name.replace(/^\*\./, '');
    const rows = await this.db.selectFrom('dns_providers').selectAll().execute();
    const row = rows
      .filter((r) => bare === r.zone || bare.endsWith(`.${r.zone}`))
      .sort((a, b) => b.zone.length - a.zone.length)[0];
    if (!row) return undefined;
    const c = JSON.parse(row.config) as Record<string, string | string[] | undefined>;
    const secret = this.sealer.open(row.secret_sealed);
    if (row.type === 'rfc2136') {
      return new Rfc2136Provider({
        zone: row.zone,
        server: String(c.server),
        tsigName: String(c.tsig_name),
        tsigAlgorithm: String(c.tsig_algorithm),
        tsigSecret: secret,
      });
    }
    const http = {
      zone: row.zone,
      token: secret,
      apiUrl: String(c.api_url),
      ...(Array.isArray(c.propagation_servers) ? { propagationServers: c.propagation_servers } : {}),
    };
    return row.type === 'cloudflare' ? new CloudflareProvider(http) : new HetznerProvider(http);
  }
}

function isRecordProvider(p: DnsProvider): p is DnsProvider & RecordProvider {
  const r = p as Partial<RecordProvider>;
  return typeof r.get === 'function' && typeof r.put === 'function' && typeof r.remove === 'function';
}

function view(r: Row): DnsProviderView {
  return {
    name: r.name,
    type: r.type,
    zone: r.zone,
    config: JSON.parse(r.config) as Record<string, unknown>,
    created_at: r.created_at,
  };
}
