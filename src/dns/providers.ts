import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { conflict, invalid, notFound } from '../model/errors.js';
import { SEALED_FIELDS, type DnsProviderInput, type DnsProviderView } from '../model/dns.js';
import type { Sealer } from '../store/secrets.js';
import type { Database, Db } from '../store/db.js';
import { Rfc2136Provider, type DnsProvider } from './rfc2136.js';
import type { RecordProvider, RecordSet } from './records.js';
import { CloudflareProvider } from './http-providers.js';
import { HetznerProvider } from './hetzner.js';
import { OvhProvider } from './ovh.js';
import { ExecHookProvider } from './exec-hook.js';

type Row = Database['dns_providers'];
type Config = Record<string, unknown>;

/** DNS providers (their secrets sealed), and which one answers for a name. */
export class DnsProviders {
  /** What each exec hook without a check server last wrote (its get() answers from here). */
  private readonly hookMemory = new Map<string, Map<string, RecordSet>>();

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
    if (input.type === 'exec') await checkScript(input.command);
    const { name, type, zone, ...rest } = input;
    const sealed: readonly string[] = SEALED_FIELDS[type];
    const fields = rest as Config;
    const config = Object.fromEntries(Object.entries(fields).filter(([k]) => !sealed.includes(k)));
    // One secret is sealed as it is (as before); several (or a map) as one JSON object.
    const secret =
      type === 'ovh' || type === 'exec'
        ? JSON.stringify(Object.fromEntries(sealed.map((k) => [k, fields[k]])))
        : String(fields[sealed[0] as string]);
    const row: Row = {
      name,
      type,
      zone,
      config: JSON.stringify(config),
      secret_sealed: this.sealer.seal(secret),
      created_at: new Date().toISOString(),
    };
    // A zone the provider does not hold is bad input, refused before anything is stored; one that
    // cannot be asked now (down, slow, credentials refused) is stored, and the answer says why.
    const provider = this.build(row);
    const check = provider.checkZone ? await provider.checkZone() : undefined;
    if (check?.state === 'absent') throw invalid('zone', check.message ?? `${zone} is not held`);
    await this.db.insertInto('dns_providers').values(row).execute();
    return { ...view(row), ...(check ? { zone_check: check } : {}) };
  }

  async list(): Promise<DnsProviderView[]> {
    return (await this.db.selectFrom('dns_providers').selectAll().orderBy('name').execute()).map(view);
  }

  async remove(name: string): Promise<void> {
    const r = await this.db.deleteFrom('dns_providers').where('name', '=', name).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw notFound(`DNS provider ${name}`);
    this.hookMemory.delete(name);
  }

  /**
   * The provider whose zone holds `name`, when it can manage records there (external records);
   * undefined when no zone holds it or its provider only serves DNS-01.
   */
  async recordsFor(name: string): Promise<RecordProvider | undefined> {
    const p = await this.forName(name);
    return p && isRecordProvider(p) ? p : undefined;
  }

  /** The provider called `name` (the DNS doctor asks each one), if there is one. */
  async byName(name: string): Promise<DnsProvider | undefined> {
    const row = await this.db
      .selectFrom('dns_providers')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    return row ? this.build(row) : undefined;
  }

  /** The provider whose zone holds `name` (the longest zone wins), if any. */
  async forName(name: string): Promise<DnsProvider | undefined> {
    const bare = name.replace(/^\*\./, '');
    const rows = await this.db.selectFrom('dns_providers').selectAll().execute();
    const row = rows
      .filter((r) => bare === r.zone || bare.endsWith(`.${r.zone}`))
      .sort((a, b) => b.zone.length - a.zone.length)[0];
    return row ? this.build(row) : undefined;
  }

  private build(row: Row): DnsProvider {
    const c = JSON.parse(row.config) as Config;
    const secret = this.sealer.open(row.secret_sealed);
    const str = (k: string) => String(c[k]);
    const servers = Array.isArray(c.propagation_servers)
      ? { propagationServers: c.propagation_servers.map(String) }
      : {};
    switch (row.type) {
      case 'rfc2136':
        return new Rfc2136Provider({
          zone: row.zone,
          server: str('server'),
          tsigName: str('tsig_name'),
          tsigAlgorithm: str('tsig_algorithm'),
          tsigSecret: secret,
        });
      case 'ovh': {
        const s = JSON.parse(secret) as { application_secret: string; consumer_key: string };
        return new OvhProvider({
          zone: row.zone,
          endpoint: str('endpoint'),
          applicationKey: str('application_key'),
          applicationSecret: s.application_secret,
          consumerKey: s.consumer_key,
          ...servers,
        });
      }
      case 'exec': {
        const s = JSON.parse(secret) as { env?: Record<string, string> };
        let memory = this.hookMemory.get(row.name);
        if (!memory) this.hookMemory.set(row.name, (memory = new Map()));
        return new ExecHookProvider({
          zone: row.zone,
          command: str('command'),
          timeoutS: Number(c.timeout_s ?? 60),
          ...(typeof c.check_server === 'string' ? { checkServer: c.check_server } : {}),
          env: s.env ?? {},
          memory,
        });
      }
      default: {
        const http = { zone: row.zone, token: secret, apiUrl: str('api_url'), ...servers };
        return row.type === 'cloudflare' ? new CloudflareProvider(http) : new HetznerProvider(http);
      }
    }
  }
}

/** An exec hook's script exists, is a file and may be executed (checked when it is added). */
async function checkScript(path: string): Promise<void> {
  const s = await stat(path).catch(() => undefined);
  if (!s) throw invalid('command', `${path} does not exist`);
  if (!s.isFile()) throw invalid('command', `${path} is not a file`);
  // It runs as Gatehouse's user: one anybody else may rewrite would run their code.
  if ((s.mode & 0o022) !== 0) throw invalid('command', `${path} is writable by group or others`);
  await access(path, constants.X_OK).catch(() => {
    throw invalid('command', `${path} is not executable`);
  });
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
