import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';
import { DEFAULT_VPN_RANGE, vpnRangeSchema } from './site.js';
import { addressIntervalSchema, addressSourceSchema } from './public-address.js';
import { checkLanDns, lanDnsSettings } from './lan-dns-settings.js';
import { dnsDoctorSettings } from './dns-doctor-settings.js';
import { geoipSettings } from './geoip-settings.js';
import { dockerSettings } from './docker-settings.js';
import { checkCrowdsec, crowdsecSettings } from './crowdsec-settings.js';
import { accessLogSettings } from './access-log-settings.js';
import YAML from 'yaml';
import { GatehouseError, fromZod, unreadableFile } from './errors.js';
import {
  cidrSchema,
  durationMs,
  durationSchema,
  hostnameSchema,
  parseResolverSetting,
  slugSchema,
} from './values.js';

/**
 * Start-up settings. Each can come from a flag (`--http-port`), an environment variable
 * (`GATEHOUSE_HTTP_PORT`) or the YAML file named by `GATEHOUSE_CONFIG` (`http_port:`), in that order
 * of precedence; one schema validates the merged result.
 */

const LISTEN = /^(?:unix:\/.+|(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|\[[0-9a-fA-F:.]+\])?:[0-9]{1,5}|[0-9]{1,5})$/;

/**
 * What a setting's value was, for a message that says what is accepted instead. Text that is no
 * number reaches the check already converted (NaN), which would only confuse: it is left out.
 */
const got = (input: unknown): string =>
  Number.isNaN(input) ? '' : ` (got ${JSON.stringify(input) ?? String(input)})`;

// One check, one message: an address that is not one is not also told its port is too large.
const listenSchema = z.string().refine(
  // A port past 65535 (or an address without one) would reach listen() as NaN or a wrap-around.
  (v) => LISTEN.test(v) && (v.startsWith('unix:') || Number(/([0-9]+)$/.exec(v)?.[1]) <= 65535),
  { error: (iss) => `expected HOST:PORT, :PORT, PORT (up to 65535) or unix:/path${got(iss.input)}` },
);

/**
 * A whole number from min to max; flags and the environment give strings, converted here. Every
 * failure (not a number, a fraction, out of range) says the same: what is accepted.
 */
function wholeNumber(min: number, max: number, what = `a whole number from ${min} to ${max}`) {
  const error = (iss: { input?: unknown }) => `expected ${what}${got(iss.input)}`;
  return z.coerce.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

/** A registration template: a service without a name whose strings may hold {placeholders}. */
export const templateSchema = z.strictObject({
  hosts: z.array(z.string()).optional(),
  routes: z.array(z.unknown()).optional(),
  tcp: z.array(z.unknown()).optional(),
  access: z.unknown().optional(),
});
export type Template = z.output<typeof templateSchema>;

const csv = z.preprocess(
  (v) =>
    typeof v === 'string'
      ? v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : v,
  z.array(cidrSchema),
);

const TARGET_HOST = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;
/** `dns_records_target`: addresses (IPv4, IPv6), or exactly one host name for a CNAME; empty: none. */
const recordTarget = z
  .preprocess(
    (v) =>
      (typeof v === 'string' ? v.split(',') : Array.isArray(v) ? v : [v])
        .map((s) => (typeof s === 'string' ? s.trim().toLowerCase() : s))
        .filter((s) => s !== ''),
    z.array(z.string()).max(32, 'at most 32 addresses'),
  )
  .refine(
    (v) =>
      v.every((a) => isIP(a) !== 0) ||
      (v.length === 1 && TARGET_HOST.test(v[0] as string) && (v[0] as string).length <= 253),
    'IP addresses (comma-separated), or one host name for a CNAME',
  )
  .default([]);

export const settingsFields = z.strictObject({
  config: z.string().optional(),
  // nginx's config names paths below it: characters its syntax gives a meaning to are refused here,
  // before anything starts, rather than by the driver at the first apply.
  data_dir: z
    .string()
    .min(1)
    .regex(/^[^\s$"'\\{};\p{Cc}]+$/u, 'a path without spaces, quotes or any of $ \\ { } ;')
    .default('/var/lib/gatehouse'),
  /** PostgreSQL as the store (docs/postgresql.md); unset: SQLite in data_dir. */
  database_url: z
    .string()
    .regex(/^postgres(ql)?:\/\/\S+$/i, 'a postgres:// or postgresql:// URL')
    .refine((v) => URL.canParse(v), 'a postgres:// or postgresql:// URL')
    .optional(),
  /** This replica's name in status (docs/postgresql.md); unset: hostname-pid-random. */
  replica_name: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,40}$/, 'at most 40 letters, digits, ".", "_" or "-"')
    .optional(),
  http_port: wholeNumber(1, 65535, 'a port from 1 to 65535').default(80),
  https_port: wholeNumber(0, 65535, 'a port from 1 to 65535, or 0 for none').default(443),
  api_listen: listenSchema.default('127.0.0.1:7070'),
  /**
   * The management API's URL as edges and site machines reach it (`https://cp.example.com:7070`):
   * the commands `site add`, `node add` and a node-token rotation print use it for `--control`.
   * Unset: they print a placeholder (the CLI fills in its own --api URL when that is HTTP).
   */
  control_url: z
    .url({ protocol: /^https?$/, error: 'the API URL edges reach, e.g. https://cp.example.com:7070' })
    .optional(),
  admin_token: z.string().min(16, 'at least 16 characters').optional(),
  register_listen: listenSchema.default(':9876'),
  register_token: z.string().min(16, 'at least 16 characters').optional(),
  /** A read-only token for GET /metrics only (Prometheus); unset: /metrics takes the admin token. */
  metrics_token: z.string().min(16, 'at least 16 characters').optional(),
  register_allow: csv.default([
    '127.0.0.0/8',
    '::1/128',
    '10.0.0.0/8',
    '172.16.0.0/12',
    '192.168.0.0/16',
    'fc00::/7',
  ]),
  base_domain: hostnameSchema.optional(),
  /** The login portal's host; default `auth.<base_domain>`. */
  auth_host: hostnameSchema.optional(),
  /**
   * How clients reach the proxy when that differs from what nginx listens on (NAT, another proxy):
   * `scheme://host[:port]`. Portal redirects, hand-overs and temporary-link URLs use its scheme and
   * port with their own host. Unset: the port (and scheme) of the request itself.
   */
  public_url: z
    .string()
    .regex(
      /^https?:\/\/[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?(?::[0-9]{1,5})?\/?$/i,
      'scheme://host[:port], e.g. https://example.com:8443 (no path)',
    )
    .refine((v) => {
      const port = /:([0-9]+)\/?$/.exec(v.replace(/^https?:\/\//i, ''))?.[1];
      return port === undefined || (Number(port) >= 1 && Number(port) <= 65535);
    }, 'port must be 1-65535')
    .optional(),
  /** How often to write a scheduled backup (see docs/backup.md); unset: no scheduled backups. */
  backup_interval: durationSchema.optional(),
  /** How many scheduled backups to keep; older ones are deleted. */
  backup_keep: wholeNumber(1, 10000, 'a count from 1 to 10000').default(7),
  /** Where scheduled backups go (default: <data_dir>/backups). */
  backup_dir: z.string().min(1).optional(),
  /** How long a sign-in lasts. */
  session_ttl: durationSchema.default('168h'),
  /**
   * Sign-in by email (docs/magic-links.md): the email alert channel whose server sends the links
   * (its `to` list is not used: each link goes to the user's own address). Unset: no such sign-in.
   */
  magic_link_channel: slugSchema.optional(),
  /** How long an emailed sign-in link works (once). */
  magic_link_ttl: durationSchema
    .refine((d) => durationMs(d) >= 60_000 && durationMs(d) <= 3_600_000, 'from 1m to 1h')
    .default('10m'),
  /** Encrypts secrets at rest (keys, tokens, TOTP); without it a key file in data_dir does. */
  secret: z.string().min(16, 'at least 16 characters').optional(),
  /** The secret a data-key rotation goes to next (replicas: set on each, rotate on one; docs/rotation.md). */
  secret_next: z.string().min(16, 'at least 16 characters').optional(),
  /** ACME directory to obtain certificates from (Let's Encrypt: https://acme-v02.api.letsencrypt.org/directory). Unset: no ACME. */
  acme_directory: z.url({ protocol: /^https?$/, error: 'the ACME directory URL' }).optional(),
  /** Contact address for the ACME account. */
  acme_email: z.email('an email address').optional(),
  /** A PEM file of CAs to trust for the ACME directory's own HTTPS (a private CA, Pebble in tests). */
  acme_ca_file: z.string().min(1).optional(),
  /** External account binding, for CAs that require one (ZeroSSL, Google): key id and HMAC key. */
  acme_eab_kid: z.string().min(1).max(256).optional(),
  acme_eab_hmac_key: z.string().min(1).max(512).optional(),
  /** Key type of issued certificates. */
  acme_key_type: z.enum(['ecdsa', 'rsa']).default('ecdsa'),
  /** The name the login portal shows. */
  portal_name: z
    .string()
    .min(1)
    .max(64)
    .regex(/^\P{Cc}*$/u, 'no control characters')
    .default('Gatehouse'),
  /** Proxies in front of Gatehouse whose X-Forwarded-For is believed (never a client's own). */
  trusted_proxies: csv.default([]),
  ...geoipSettings,
  ...crowdsecSettings,
  nginx_bin: z.string().min(1).default('nginx'),
  nginx_modules_dir: z.string().min(1).default('/usr/lib/nginx/modules'),
  nginx_workers: wholeNumber(1, 64).default(2),
  /**
   * After a reload, old workers finish their requests; connections still open this long after
   * (WebSockets, long polls, TCP routes) are closed, so old workers cannot pile up.
   */
  nginx_worker_shutdown_timeout: durationSchema.default('5m'),
  log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** nginx's access, stream and error logs are rotated (one old file kept) past this size. */
  nginx_log_max_mb: wholeNumber(1, 100_000).default(100),
  /** How often the files nginx reads are compared with what Gatehouse rendered (and logs rotated). */
  drift_check_interval: durationSchema.default('5s'),
  snapshot_keep: wholeNumber(1, Number.MAX_SAFE_INTEGER, 'a whole number, 1 or more').default(100),
  snapshot_keep_days: wholeNumber(0, Number.MAX_SAFE_INTEGER, 'a whole number, 0 or more').default(30),
  templates: z.record(slugSchema, templateSchema).default({}),
  /** An edge file (services, users, groups, templates) applied at start and whenever it changes. */
  file: z.string().default(''),
  /** A service whose agent is silent this long past its TTL is removed (until then: offline page). */
  agent_grace: durationSchema.default('10m'),
  ...dockerSettings,
  /**
   * How DNS names in upstreams are resolved (docs/upstream-names.md): `system` (getaddrinfo:
   * /etc/hosts and the machine's DNS servers) or a DNS server's IP[:port] asked directly.
   */
  upstream_resolver: z
    .string()
    .refine((v) => typeof parseResolverSetting(v) !== 'string', {
      error: (iss) => `system, or a DNS server as IP or IP:port (e.g. 127.0.0.1:53)${got(iss.input)}`,
    })
    .default('system'),
  /** How long an answer without a TTL (the system resolver's) is used before asking again (1s-300s). */
  upstream_name_ttl: durationSchema
    .refine((d) => durationMs(d) >= 1000 && durationMs(d) <= 300_000, 'from 1s to 300s')
    .default('30s'),
  /** Tunnel addresses for public edges and sites are allocated from this block (docs/sites.md). */
  vpn_range: vpnRangeSchema.default(DEFAULT_VPN_RANGE),
  /** The control plane's own edge as the sites' WireGuard server on this UDP port; 0: not. */
  vpn_port: wholeNumber(0, 65535, 'a port from 1 to 65535, or 0 for none').default(0),
  /** Where sites reach vpn_port (HOST:PORT); default: base_domain and vpn_port. */
  vpn_endpoint: z
    .string()
    .regex(/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/, 'HOST:PORT sites dial')
    .optional(),
  /**
   * Who `gatehouse.access=vpn-only` admits: `vpn` (only vpn_range, the tunnel addresses of VPN
   * clients and sites) or `private` (every private range, as before 2026-12-07: any LAN host passed),
   * plus vpn_only_extra.
   */
  vpn_only_sources: z.enum(['private', 'vpn'], { error: 'private or vpn' }).default('vpn'),
  /** Further sources vpn-only admits (comma-separated CIDRs): an office LAN, another VPN's range. */
  vpn_only_extra: csv.default([]),
  /**
   * External records (docs/dns.md): A/AAAA (or CNAME) records at the zone's DNS provider for every
   * host public edges serve, created, changed and removed with the services. Off: none are touched.
   */
  dns_records: z.enum(['off', 'on'], { error: 'off or on' }).default('off'),
  /**
   * What those records point at: addresses (comma-separated; a floating IP with HA) or one host
   * name (a CNAME). Empty: the addresses of the public edges as the control plane sees them.
   */
  dns_records_target: recordTarget,
  /** The records' TTL in seconds. */
  dns_records_ttl: wholeNumber(30, 86_400, 'seconds from 30 to 86400').default(300),
  /**
   * Dynamic DNS (docs/dns.md): where this node's public address is read, `off`, `interface:<name>`
   * or `urls:<url>[,<url>...]`; the external records follow it. Read on the leader every interval.
   */
  public_address_source: addressSourceSchema,
  public_address_interval: addressIntervalSchema,
  /** The WireGuard interface of vpn_port (unique on the machine). */
  vpn_interface: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,15}$/, '1-15 letters, digits, ".", "_" or "-"')
    .default('gh-local0'),
  ...lanDnsSettings,
  ...dnsDoctorSettings,
  ...accessLogSettings,
});
/** Cross-field checks of one concern each, in that concern's file. */
export const settingsSchema = settingsFields.superRefine((s, ctx) => {
  checkLanDns(s, ctx);
  checkCrowdsec(s, ctx);
});

export type Settings = z.output<typeof settingsSchema>;
export type SettingsInput = z.input<typeof settingsSchema>;

/** Names as they appear in the file (snake_case); env and flag names derive from them. */
export const SETTING_KEYS = Object.keys(settingsSchema.shape) as (keyof Settings)[];

export function envName(key: string): string {
  return `GATEHOUSE_${key.toUpperCase()}`;
}

export function flagName(key: string): string {
  return key.replace(/_/g, '-');
}

/**
 * Merges defaults < file < environment < flags and validates the result. Throws a GatehouseError
 * naming the setting (and where it came from) when anything is wrong.
 */
export function loadSettings(
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): Settings {
  const fromEnv: Record<string, unknown> = {};
  for (const key of SETTING_KEYS) {
    const v = env[envName(key)];
    if (v !== undefined && v !== '' && key !== 'templates') fromEnv[key] = v;
  }
  const configPath = (flags.config ?? fromEnv.config) as string | undefined;
  let fromFile: Record<string, unknown> = {};
  if (configPath) {
    let text: string;
    try {
      text = readFile(configPath);
    } catch (err) {
      throw new GatehouseError(
        'config_unreadable',
        `${unreadableFile(configPath, err).why} (the config file)`,
      );
    }
    let parsed: unknown;
    try {
      parsed = YAML.parse(text);
    } catch (err) {
      throw new GatehouseError('config_invalid', `config file ${configPath}: ${(err as Error).message}`);
    }
    if (parsed !== null && (typeof parsed !== 'object' || Array.isArray(parsed))) {
      throw new GatehouseError('config_invalid', `config file ${configPath}: expected a mapping of settings`);
    }
    fromFile = (parsed ?? {}) as Record<string, unknown>;
  }
  const merged = { ...fromFile, ...fromEnv, ...stripUndefined(flags) };
  const result = settingsSchema.safeParse(merged);
  if (!result.success) {
    const err = fromZod(result.error);
    const issue = err.issues[0];
    const key = issue?.field.split('.')[0] ?? '';
    const origin =
      key in flags && flags[key] !== undefined
        ? `--${flagName(key)}`
        : key in fromEnv
          ? envName(key)
          : configPath
            ? `${key} in ${configPath}`
            : key;
    throw new GatehouseError(
      'setting_invalid',
      `setting ${origin}: ${issue?.message ?? 'invalid'}`,
      400,
      err.issues,
    );
  }
  return result.data;
}

function stripUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

export interface ListenAddress {
  host?: string;
  port?: number;
  path?: string;
}

export function parseListen(s: string): ListenAddress {
  if (s.startsWith('unix:')) return { path: s.slice(5) };
  const m = /^(.*):([0-9]+)$/.exec(s);
  if (!m) return { host: '0.0.0.0', port: Number(s) };
  const host = (m[1] ?? '').replace(/^\[|\]$/g, '') || '0.0.0.0';
  return { host, port: Number(m[2]) };
}

/** The login portal's host, if there is one. */
export function portalHost(s: Settings): string | undefined {
  return s.auth_host ?? (s.base_domain ? `auth.${s.base_domain}` : undefined);
}

/** `public_url`'s scheme and port part (`""` for the scheme's default port), if it is set. */
export function publicOrigin(s: Settings): { scheme: 'http' | 'https'; port: string } | undefined {
  if (!s.public_url) return undefined;
  const url = new URL(s.public_url);
  const scheme = url.protocol === 'https:' ? 'https' : 'http';
  // URL drops a scheme's default port itself: ":443" for https leaves `port` empty.
  return { scheme, port: url.port ? `:${url.port}` : '' };
}

/** The management API's local unix socket (root-only), which the CLI uses by default. */
export function apiSocketPath(dataDir: string): string {
  return join(dataDir, 'run', 'api.sock');
}
