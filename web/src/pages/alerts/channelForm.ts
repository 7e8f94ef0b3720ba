import { alertChannelSchema } from '../../../../src/model/alert-channel.js';
import { wordsOf } from '../dns/providerForm.js';

/**
 * The "Add channel" form's rules, kept apart from React (as dns/providerForm.ts): which fields each
 * type has, the body sent (the one model schema checks it here first, as the API does), and which
 * field a complaint (the schema's or the API's 400) is about.
 */

export const ALERT_TYPES = [
  'webhook',
  'slack',
  'discord',
  'teams',
  'ntfy',
  'gotify',
  'telegram',
  'email',
] as const;
export type AlertType = (typeof ALERT_TYPES)[number];

export const ALERT_TYPE_LABELS: Record<AlertType, string> = {
  webhook: 'Webhook (any HTTP endpoint)',
  slack: 'Slack',
  discord: 'Discord',
  teams: 'Microsoft Teams (Workflows)',
  ntfy: 'ntfy',
  gotify: 'Gotify',
  telegram: 'Telegram',
  email: 'Email (SMTP)',
};

/** Every field of every type, as typed (recipients as text, one a line; STARTTLS as a checkbox). */
export const EMPTY_CHANNEL = {
  type: 'webhook' as AlertType,
  name: '',
  url: '',
  secret: '',
  server: '',
  topic: '',
  token: '',
  bot_token: '',
  chat_id: '',
  api_url: '',
  host: '',
  port: '',
  starttls: true,
  username: '',
  password: '',
  from: '',
  to: '',
};
export type ChannelValues = typeof EMPTY_CHANNEL;
export type ChannelField = Exclude<keyof ChannelValues, 'type'>;
/** The fields typed as text (all but the checkbox). */
export type ChannelTextField = Exclude<ChannelField, 'starttls'>;

export interface ChannelFieldSpec {
  key: ChannelTextField;
  label: string;
  placeholder?: string;
  /** Sealed by the server: a password input, never shown back. */
  secret?: boolean;
  /** Text over several lines (a list). */
  lines?: boolean;
  required?: boolean;
  /** Spans the form's width on a wide screen. */
  wide?: boolean;
}

const hookUrl = (label: string, placeholder: string): ChannelFieldSpec => ({
  key: 'url',
  label,
  placeholder,
  secret: true,
  required: true,
  wide: true,
});

/** The fields after the name, per type (docs/alerts.md, "Channel types"). */
export const ALERT_TYPE_FIELDS: Record<AlertType, readonly ChannelFieldSpec[]> = {
  webhook: [
    hookUrl('Webhook URL', 'https://hooks.example.com/gatehouse'),
    { key: 'secret', label: 'Signing secret (optional, HMAC-SHA256)', secret: true },
  ],
  slack: [hookUrl('Slack incoming webhook URL', 'https://hooks.slack.com/services/…')],
  discord: [hookUrl('Discord webhook URL', 'https://discord.com/api/webhooks/…')],
  teams: [hookUrl('Teams Workflows webhook URL', 'https://….logic.azure.com/workflows/…')],
  ntfy: [
    { key: 'server', label: 'Server (optional)', placeholder: 'https://ntfy.sh' },
    { key: 'topic', label: 'Topic', placeholder: 'gatehouse-alerts', required: true },
    { key: 'token', label: 'Access token (optional)', secret: true },
  ],
  gotify: [
    { key: 'server', label: 'Server', placeholder: 'https://gotify.example.com', required: true },
    { key: 'token', label: 'Application token', secret: true, required: true },
  ],
  telegram: [
    { key: 'bot_token', label: 'Bot token (from BotFather)', secret: true, required: true },
    {
      key: 'chat_id',
      label: 'Chat id (a number or @channel)',
      placeholder: '-1001234567890',
      required: true,
    },
    { key: 'api_url', label: 'Bot API URL (optional)', placeholder: 'https://api.telegram.org' },
  ],
  email: [
    { key: 'host', label: 'SMTP host', placeholder: 'smtp.example.com', required: true },
    { key: 'port', label: 'Port (optional)', placeholder: '587' },
    { key: 'username', label: 'Username (optional)' },
    { key: 'password', label: 'Password (optional)', secret: true },
    { key: 'from', label: 'From', placeholder: 'gatehouse@example.com', required: true },
    {
      key: 'to',
      label: 'To (one address a line)',
      placeholder: 'ops@example.com',
      lines: true,
      required: true,
      wide: true,
    },
  ],
};

const lines = (s: string) =>
  s
    .split(/[\n,]/)
    .map((l) => l.trim())
    .filter(Boolean);

/** What the form sends, or the field whose text could not be read (before the schema sees it). */
export type BuiltChannel =
  { ok: true; body: Record<string, unknown> } | { ok: false; field: ChannelField; message: string };

/**
 * The body POSTed for these values: the chosen type's fields only, text trimmed (secrets as typed),
 * empty fields left out (the schema says "required", or the server's default applies).
 */
export function channelBodyOf(v: ChannelValues): BuiltChannel {
  const body: Record<string, unknown> = { name: v.name.trim(), type: v.type };
  for (const f of ALERT_TYPE_FIELDS[v.type]) {
    const raw = v[f.key];
    if (f.key === 'to') {
      body.to = lines(raw);
    } else if (f.key === 'port') {
      const p = raw.trim();
      if (p && !/^\d+$/.test(p)) return { ok: false, field: 'port', message: 'a port number' };
      if (p) body.port = Number(p);
    } else {
      const value = f.secret ? raw : raw.trim();
      if (value) body[f.key] = value;
    }
  }
  if (v.type === 'email') body.starttls = v.starttls;
  return { ok: true, body };
}

const FIELD_KEYS = new Set<string>(Object.keys(EMPTY_CHANNEL).filter((k) => k !== 'type'));

/** The form field a complaint's path is about (`to.1` → `to`). */
export function channelFieldOf(path: string): ChannelField | undefined {
  const head = path.split('.')[0] ?? '';
  return FIELD_KEYS.has(head) ? (head as ChannelField) : undefined;
}

/**
 * The model's schema on what would be sent: its complaints per field (first one each), or
 * undefined when the API would take it.
 */
export function checkChannel(v: ChannelValues): Partial<Record<ChannelField, string>> | undefined {
  const built = channelBodyOf(v);
  if (!built.ok) return { [built.field]: built.message };
  const r = alertChannelSchema.safeParse(built.body);
  if (r.success) return undefined;
  const errors: Partial<Record<ChannelField, string>> = {};
  for (const issue of r.error.issues) {
    const f = channelFieldOf(issue.path.map(String).join('.'));
    if (f && !errors[f]) errors[f] = wordsOf(issue);
  }
  return Object.keys(errors).length ? errors : { name: r.error.issues[0]?.message ?? 'not valid' };
}
