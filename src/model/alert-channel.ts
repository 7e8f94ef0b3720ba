import { z } from 'zod';
import { hostnameSchema, portSchema, slugSchema } from './values.js';

/** An http(s) URL (a webhook, a server's base). */
const httpUrl = (what: string) => z.url({ protocol: /^https?$/, error: what }).max(2048);
const token = (what: string) =>
  z
    .string()
    .min(8, `${what} of at least 8 characters`)
    .max(512)
    .regex(/^[\x21-\x7e]+$/, `${what} of printable characters`);
const address = z.email('an email address').max(254);

/**
 * Where alerts are sent (docs/alerts.md). Secret fields (a signing secret, tokens, webhook URLs
 * that carry a token, a password) are stored sealed and never shown: see SEALED_ALERT_FIELDS.
 */
export const alertChannelSchema = z.discriminatedUnion('type', [
  /** Any HTTP endpoint: JSON, signed with HMAC-SHA256 when a secret is set. */
  z.strictObject({
    name: slugSchema,
    type: z.literal('webhook'),
    url: httpUrl('the webhook URL, http(s)'),
    secret: token('a signing secret').optional(),
  }),
  z.strictObject({
    name: slugSchema,
    type: z.literal('slack'),
    url: httpUrl('the Slack incoming webhook URL'),
  }),
  z.strictObject({ name: slugSchema, type: z.literal('discord'), url: httpUrl('the Discord webhook URL') }),
  z.strictObject({
    name: slugSchema,
    type: z.literal('teams'),
    url: httpUrl('the Teams (Workflows) webhook URL'),
  }),
  z.strictObject({
    name: slugSchema,
    type: z.literal('ntfy'),
    server: httpUrl('the ntfy server URL, http(s)').default('https://ntfy.sh'),
    topic: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a topic of 1-64 letters, digits, "_" and "-"'),
    token: token('an access token').optional(),
  }),
  z.strictObject({
    name: slugSchema,
    type: z.literal('gotify'),
    server: httpUrl('the Gotify server URL, http(s)'),
    token: token('an application token'),
  }),
  z.strictObject({
    name: slugSchema,
    type: z.literal('telegram'),
    bot_token: z
      .string()
      .regex(/^\d{1,20}:[A-Za-z0-9_-]{20,128}$/, 'a bot token as BotFather gives it (123456:ABC…)'),
    chat_id: z.string().regex(/^(-?\d{1,20}|@[A-Za-z0-9_]{5,64})$/, 'a chat id (a number, or @channelname)'),
    api_url: httpUrl('the Bot API base URL').default('https://api.telegram.org'),
  }),
  z
    .strictObject({
      name: slugSchema,
      type: z.literal('email'),
      host: hostnameSchema,
      port: portSchema.default(587),
      /** Upgrade to TLS with STARTTLS before anything else is said (the server must offer it). */
      starttls: z.boolean().default(true),
      username: z.string().min(1).max(256).optional(),
      password: z.string().min(1).max(512).optional(),
      from: address,
      to: z.array(address).min(1, 'at least one recipient').max(32),
    })
    .superRefine((e, ctx) => {
      if ((e.username === undefined) !== (e.password === undefined))
        ctx.addIssue({ code: 'custom', path: ['password'], message: 'username and password go together' });
      if (e.password !== undefined && !e.starttls)
        ctx.addIssue({
          code: 'custom',
          path: ['starttls'],
          message: 'a password is only sent over STARTTLS',
        });
    }),
]);

export type AlertChannelInput = z.output<typeof alertChannelSchema>;
export type AlertChannelType = AlertChannelInput['type'];

/** The fields of each type that are sealed at rest and never shown (the rest is `config`). */
export const SEALED_ALERT_FIELDS = {
  webhook: ['url', 'secret'],
  slack: ['url'],
  discord: ['url'],
  teams: ['url'],
  ntfy: ['token'],
  gotify: ['token'],
  telegram: ['bot_token'],
  email: ['password'],
} as const satisfies Record<AlertChannelType, readonly string[]>;

/** A channel as the API shows it: never a secret. */
export interface AlertChannelView {
  name: string;
  type: string;
  /** Everything but the secret fields. */
  config: Record<string, unknown>;
  /** Which secret fields are set (their values are never shown). */
  sealed: string[];
  created_at: string;
}

/** What a channel is sent: a title and a text. */
export interface AlertMessage {
  title: string;
  text: string;
  /** Which alert, for receivers that act on it (the webhook's JSON carries it); none on a test. */
  alert?: {
    rule: string;
    subject: string;
    state: 'firing' | 'resolved';
    /** When the condition began (ISO 8601). */
    since: string;
  };
}
