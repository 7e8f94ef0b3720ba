import type { z } from 'zod';
import { dnsProviderSchema, SEALED_FIELDS } from '../../../../src/model/dns.js';

/**
 * The "Add DNS provider" form's rules, kept apart from React: which fields each type has, the body
 * sent (the one model schema checks it here first, as the API does), and which field a complaint
 * (the schema's or the API's 400) is about.
 */

export const DNS_TYPES = ['rfc2136', 'cloudflare', 'hetzner', 'ovh', 'exec'] as const;
export type DnsType = (typeof DNS_TYPES)[number];

export const TYPE_LABELS: Record<DnsType, string> = {
  rfc2136: 'RFC 2136 (BIND, Knot, PowerDNS)',
  cloudflare: 'Cloudflare',
  hetzner: 'Hetzner DNS',
  ovh: 'OVHcloud',
  exec: 'Script (exec hook)',
};

/** Every field of every type, as typed (lists and the environment as text, one item a line). */
export const EMPTY_PROVIDER = {
  type: 'rfc2136' as DnsType,
  name: '',
  zone: '',
  server: '',
  tsig_name: '',
  tsig_algorithm: 'hmac-sha256',
  tsig_secret: '',
  api_token: '',
  api_url: '',
  endpoint: '',
  application_key: '',
  application_secret: '',
  consumer_key: '',
  propagation_servers: '',
  command: '',
  timeout_s: '',
  check_server: '',
  env: '',
};
export type ProviderValues = typeof EMPTY_PROVIDER;
export type ProviderField = Exclude<keyof ProviderValues, 'type'>;

export interface FieldSpec {
  key: ProviderField;
  label: string;
  placeholder?: string;
  /** Sealed by the server: a password input, never shown back. */
  secret?: boolean;
  /** Text over several lines (a list, the environment). */
  lines?: boolean;
  required?: boolean;
  /** Choices (a select). */
  options?: readonly string[];
  /** Spans the form's width on a wide screen. */
  wide?: boolean;
}

const propagation: FieldSpec = {
  key: 'propagation_servers',
  label: 'Propagation servers (optional, IP:port, one a line; default: the zone’s NS)',
  placeholder: '203.0.113.53:53',
  lines: true,
  wide: true,
};

/** The fields after name and zone, per type (docs/dns.md, "DNS providers"). */
export const TYPE_FIELDS: Record<DnsType, readonly FieldSpec[]> = {
  rfc2136: [
    { key: 'server', label: 'Primary server (IP:port)', placeholder: '192.0.2.53:53', required: true },
    { key: 'tsig_name', label: 'TSIG key name', placeholder: 'gatehouse', required: true },
    { key: 'tsig_algorithm', label: 'TSIG algorithm', options: ['hmac-sha256', 'hmac-sha512'] },
    { key: 'tsig_secret', label: 'TSIG secret (base64)', secret: true, required: true },
  ],
  cloudflare: [
    { key: 'api_token', label: 'API token (Zone → DNS → Edit)', secret: true, required: true },
    { key: 'api_url', label: 'API URL (optional)', placeholder: 'https://api.cloudflare.com/client/v4' },
    propagation,
  ],
  hetzner: [
    { key: 'api_token', label: 'API token', secret: true, required: true },
    { key: 'api_url', label: 'API URL (optional)', placeholder: 'https://dns.hetzner.com/api/v1' },
    propagation,
  ],
  ovh: [
    { key: 'endpoint', label: 'Endpoint (optional)', placeholder: 'https://eu.api.ovh.com/1.0' },
    { key: 'application_key', label: 'Application key', required: true },
    { key: 'application_secret', label: 'Application secret', secret: true, required: true },
    { key: 'consumer_key', label: 'Consumer key', secret: true, required: true },
    propagation,
  ],
  exec: [
    {
      key: 'command',
      label: 'Script (absolute path)',
      placeholder: '/etc/gatehouse/hooks/dns.sh',
      required: true,
      wide: true,
    },
    { key: 'timeout_s', label: 'Time limit per call, seconds (optional)', placeholder: '60' },
    { key: 'check_server', label: 'Check server (optional, IP:port)', placeholder: '192.0.2.53:53' },
    {
      key: 'env',
      label: 'Environment for the script (NAME=value, one a line)',
      placeholder: 'API_KEY=…',
      secret: true,
      lines: true,
      wide: true,
    },
  ],
};

/** Whether a field's value is sealed (SEALED_FIELDS: the model's own list). */
export function isSealed(type: DnsType, key: string): boolean {
  return (SEALED_FIELDS[type] as readonly string[]).includes(key);
}

const lines = (s: string) =>
  s
    .split(/[\n,]/)
    .map((l) => l.trim())
    .filter(Boolean);

/** `NAME=value` lines → an object; a line without `=` is the error returned as a string. */
export function parseEnv(text: string): Record<string, string> | string {
  const env: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    if (!raw.trim()) continue;
    const eq = raw.indexOf('=');
    if (eq <= 0) return `"${raw.trim()}" is not NAME=value`;
    env[raw.slice(0, eq).trim()] = raw.slice(eq + 1);
  }
  return env;
}

/** What the form sends, or the field whose text could not be read (before the schema sees it). */
export type Built =
  { ok: true; body: Record<string, unknown> } | { ok: false; field: ProviderField; message: string };

/**
 * The body POSTed for these values: the chosen type's fields only, text trimmed (secrets as
 * typed), empty fields left out (the schema says "required", or the server's default applies).
 */
export function bodyOf(v: ProviderValues): Built {
  const body: Record<string, unknown> = { name: v.name.trim(), type: v.type, zone: v.zone.trim() };
  for (const f of TYPE_FIELDS[v.type]) {
    const raw = v[f.key];
    if (f.key === 'env') {
      const env = parseEnv(raw);
      if (typeof env === 'string') return { ok: false, field: 'env', message: env };
      body.env = env;
    } else if (f.key === 'propagation_servers') {
      if (lines(raw).length) body.propagation_servers = lines(raw);
    } else if (f.key === 'timeout_s') {
      const t = raw.trim();
      if (t && !/^\d+$/.test(t))
        return { ok: false, field: 'timeout_s', message: 'a whole number of seconds' };
      if (t) body.timeout_s = Number(t);
    } else {
      const value = f.secret ? raw : raw.trim();
      if (value) body[f.key] = value;
    }
  }
  return { ok: true, body };
}

const FIELD_KEYS = new Set<string>(Object.keys(EMPTY_PROVIDER).filter((k) => k !== 'type'));

/** The form field a complaint's path is about (`propagation_servers.1` → `propagation_servers`). */
export function providerFieldOf(path: string): ProviderField | undefined {
  const head = path.split('.')[0] ?? '';
  return FIELD_KEYS.has(head) ? (head as ProviderField) : undefined;
}

/** An issue's message; for a refused key of the environment, the refusal itself and the key. */
export function wordsOf(issue: z.core.$ZodIssue): string {
  if (issue.code !== 'invalid_key') return issue.message;
  const inner = issue.issues[0]?.message;
  const key = issue.path.length > 1 ? `${String(issue.path[issue.path.length - 1])}: ` : '';
  return inner ? `${key}${inner}` : issue.message;
}

/**
 * The model's schema on what would be sent: its complaints per field (first one each), or
 * undefined when the API would take it.
 */
export function checkProvider(v: ProviderValues): Partial<Record<ProviderField, string>> | undefined {
  const built = bodyOf(v);
  if (!built.ok) return { [built.field]: built.message };
  const r = dnsProviderSchema.safeParse(built.body);
  if (r.success) return undefined;
  const errors: Partial<Record<ProviderField, string>> = {};
  for (const issue of r.error.issues) {
    const f = providerFieldOf(issue.path.map(String).join('.'));
    if (f && !errors[f]) errors[f] = wordsOf(issue);
  }
  // An issue on no field of the form (there should be none) still stops the send, on the name.
  return Object.keys(errors).length ? errors : { name: r.error.issues[0]?.message ?? 'not valid' };
}
