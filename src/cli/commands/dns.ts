import { Command } from 'commander';
import type { DnsProviderList, DnsProviderView } from '../../api/views/index.js';
import { GatehouseError } from '../../model/errors.js';
import { cliContext, collect, removeCommand } from '../context.js';
import { table } from '../format.js';
import { dnsLanCommand } from './dns-lan.js';
import { dnsRecordsCommand } from './dns-records.js';
import { dnsDoctorCommand } from './dns-doctor.js';

interface AddOptions {
  type: string;
  zone: string;
  server?: string;
  tsigName?: string;
  tsigAlgorithm?: string;
  apiUrl?: string;
  propagationServer?: string[];
  endpoint?: string;
  applicationKey?: string;
  command?: string;
  timeout?: string;
  checkServer?: string;
  env?: string[];
  secretsStdin?: boolean;
}

/** Secrets as JSON on standard input (never on the command line, where `ps` shows them). */
async function stdinJson(): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8').trim();
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // Reported below.
  }
  throw new GatehouseError('invalid', 'standard input: a JSON object of the secret fields', 400, [
    { field: 'stdin', message: 'a JSON object of the secret fields' },
  ]);
}

/** KEY=VALUE pairs (an exec hook's variables) as a map. */
function pairs(list: string[] = []): Record<string, string> {
  return Object.fromEntries(
    list.map((m) => {
      const eq = m.indexOf('=');
      return eq > 0 ? [m.slice(0, eq), m.slice(eq + 1)] : [m, ''];
    }),
  );
}

/**
 * `gatehouse dns …`: DNS providers (DNS-01 and external records); `dns lan` (split horizon, in
 * dns-lan.ts); docs/dns.md.
 */
export function dnsCommand(): Command {
  const cmd = new Command('dns').description(
    'DNS: providers for DNS-01 and records, split horizon for the LAN (docs/dns.md)',
  );
  const provider = new Command('provider').description(
    'DNS providers (rfc2136, cloudflare, hetzner, ovh, exec)',
  );
  provider
    .command('add <name>')
    .description(
      'add a provider; secret fields (tsig_secret, api_token, application_secret, consumer_key, env) ' +
        'go as a JSON object on standard input with --secrets-stdin',
    )
    .requiredOption('--type <type>', 'rfc2136 | cloudflare | hetzner | ovh | exec')
    .requiredOption('--zone <zone>', 'the zone it manages, e.g. example.com')
    .option('--server <ip:port>', 'rfc2136: the primary server')
    .option('--tsig-name <name>', 'rfc2136: the TSIG key name')
    .option('--tsig-algorithm <alg>', 'rfc2136: hmac-sha256 | hmac-sha512')
    .option('--api-url <url>', 'cloudflare, hetzner: the API base URL')
    .option(
      '--propagation-server <ip:port>',
      'server that must answer before the CA looks (repeatable)',
      collect,
    )
    .option('--endpoint <url>', 'ovh: the API base (default https://eu.api.ovh.com/1.0)')
    .option('--application-key <key>', 'ovh: the application key')
    .option('--command <path>', 'exec: absolute path of the hook script')
    .option('--timeout <seconds>', 'exec: time limit per call (default 60, at most 600)')
    .option('--check-server <ip:port>', 'exec: a server answering for the zone (reads and DNS-01 waits)')
    .option('--env <KEY=VALUE>', 'exec: a variable for the script (repeatable; better on stdin)', collect)
    .option('--secrets-stdin', 'read the secret fields as a JSON object from standard input')
    .action(async (name: string, o: AddOptions, c: Command) => {
      const ctx = cliContext(c);
      const secrets = o.secretsStdin ? await stdinJson() : {};
      const env = { ...pairs(o.env), ...((secrets.env as Record<string, string> | undefined) ?? {}) };
      const timeout = o.timeout === undefined ? undefined : Number(o.timeout);
      const body: Record<string, unknown> = {
        name,
        type: o.type,
        zone: o.zone,
        ...(o.server ? { server: o.server } : {}),
        ...(o.tsigName ? { tsig_name: o.tsigName } : {}),
        ...(o.tsigAlgorithm ? { tsig_algorithm: o.tsigAlgorithm } : {}),
        ...(o.apiUrl ? { api_url: o.apiUrl } : {}),
        ...(o.propagationServer ? { propagation_servers: o.propagationServer } : {}),
        ...(o.endpoint ? { endpoint: o.endpoint } : {}),
        ...(o.applicationKey ? { application_key: o.applicationKey } : {}),
        ...(o.command ? { command: o.command } : {}),
        ...(timeout !== undefined ? { timeout_s: timeout } : {}),
        ...(o.checkServer ? { check_server: o.checkServer } : {}),
        ...secrets,
        ...(o.type === 'exec' ? { env } : {}),
      };
      const r = await ctx.client.call<DnsProviderView>('POST', '/api/v1/dns-providers', body);
      const unknown =
        r.zone_check?.state === 'unreachable'
          ? `; could not check that it holds the zone: ${r.zone_check.message ?? 'no answer'}`
          : '';
      ctx.print(`added DNS provider ${r.name} (${r.type}, zone ${r.zone})${unknown}`, r);
    });
  provider
    .command('ls')
    .description('list DNS providers (never a secret)')
    .action(async (_o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<DnsProviderList>('GET', '/api/v1/dns-providers');
      ctx.print(
        table(
          ['NAME', 'TYPE', 'ZONE', 'CREATED'],
          r.providers.map((p) => [p.name, p.type, p.zone, p.created_at]),
        ),
        r,
      );
    });
  removeCommand(
    provider,
    'rm <name>',
    'remove a DNS provider',
    '/api/v1/dns-providers/',
    'removed DNS provider',
  );
  cmd.addCommand(provider);
  cmd.addCommand(dnsLanCommand());
  // `gatehouse dns records`: the external records (docs/dns.md, External records).
  cmd.addCommand(dnsRecordsCommand());
  // `gatehouse dns doctor` (also `gatehouse doctor dns`): DNS diagnostics (docs/dns.md, Diagnostics).
  cmd.addCommand(dnsDoctorCommand());
  return cmd;
}
