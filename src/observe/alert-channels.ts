import { conflict, GatehouseError, notFound } from '../model/errors.js';
import {
  SEALED_ALERT_FIELDS,
  type AlertChannelInput,
  type AlertChannelView,
  type AlertMessage,
} from '../model/alert-channel.js';
import type { Database, Db } from '../store/db.js';
import type { Sealer } from '../store/secrets.js';
import {
  discordRequest,
  gotifyRequest,
  ntfyRequest,
  post,
  slackRequest,
  teamsRequest,
  telegramRequest,
  webhookRequest,
} from './alert-http.js';
import { sendMail } from './smtp.js';

type Row = Database['alert_channels'];
type Fields = Record<string, unknown>;

/** How long one message may take to be delivered. */
export const SEND_LIMIT_MS = 10_000;

export const TEST_MESSAGE: AlertMessage = {
  title: 'Gatehouse test message',
  text: 'This is a test message from Gatehouse: this channel works.',
};

/** Where alerts are sent (docs/alerts.md): channels, their secrets sealed, and sending to them. */
export class AlertChannels {
  constructor(
    private readonly db: Db,
    private readonly sealer: Sealer,
    /** Overrides for tests: the time limit, extra CAs trusted for SMTP STARTTLS. */
    private readonly opts: { limitMs?: number; smtpCa?: string } = {},
  ) {}

  async create(input: AlertChannelInput): Promise<AlertChannelView> {
    const exists = await this.db
      .selectFrom('alert_channels')
      .select('name')
      .where('name', '=', input.name)
      .executeTakeFirst();
    if (exists) throw conflict('name', `alert channel ${input.name} exists`);
    const { name, type, ...rest } = input;
    const fields = rest as Fields;
    const sealed: readonly string[] = SEALED_ALERT_FIELDS[type];
    const config: Fields = Object.fromEntries(Object.entries(fields).filter(([k]) => !sealed.includes(k)));
    // A URL that carries a token is sealed; where it goes (scheme, host, port) is shown.
    if (sealed.includes('url') && typeof fields.url === 'string')
      config.url_origin = new URL(fields.url).origin;
    const secret = Object.fromEntries(
      sealed.filter((k) => fields[k] !== undefined).map((k) => [k, fields[k]]),
    );
    const row: Row = {
      name,
      type,
      config: JSON.stringify(config),
      secret_sealed: this.sealer.seal(JSON.stringify(secret)),
      created_at: new Date().toISOString(),
    };
    await this.db.insertInto('alert_channels').values(row).execute();
    return view(row, Object.keys(secret));
  }

  async list(): Promise<AlertChannelView[]> {
    const rows = await this.db.selectFrom('alert_channels').selectAll().orderBy('name').execute();
    return rows.map((r) => view(r, Object.keys(this.secretOf(r))));
  }

  async remove(name: string): Promise<void> {
    const r = await this.db.deleteFrom('alert_channels').where('name', '=', name).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw notFound(`alert channel ${name}`);
  }

  /** Sends to the channel called `name`; a failure is a 502 naming the channel and what went wrong. */
  async send(name: string, message: AlertMessage): Promise<void> {
    const row = await this.db
      .selectFrom('alert_channels')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) throw notFound(`alert channel ${name}`);
    const channel = { ...(JSON.parse(row.config) as Fields), ...this.secretOf(row), name, type: row.type };
    const limit = this.opts.limitMs ?? SEND_LIMIT_MS;
    try {
      await send(channel as AlertChannelInput, message, AbortSignal.timeout(limit), this.opts.smtpCa);
    } catch (err) {
      let why = err instanceof Error ? err.message : String(err);
      if (why === 'no answer in time') why = `no answer within ${limit / 1000} s`;
      throw new GatehouseError('alert_failed', `alert channel ${name} (${row.type}): ${why}`, 502);
    }
  }

  private secretOf(row: Row): Fields {
    return JSON.parse(this.sealer.open(row.secret_sealed)) as Fields;
  }
}

/** Sends one message over the channel's transport, within `signal`'s time. */
export async function send(
  ch: AlertChannelInput,
  m: AlertMessage,
  signal: AbortSignal,
  smtpCa?: string,
): Promise<void> {
  switch (ch.type) {
    case 'webhook':
      return post(webhookRequest(ch.url, ch.secret, ch.name, m), signal);
    case 'slack':
      return post(slackRequest(ch.url, m), signal);
    case 'discord':
      return post(discordRequest(ch.url, m), signal);
    case 'teams':
      return post(teamsRequest(ch.url, m), signal);
    case 'ntfy':
      return post(ntfyRequest(ch.server, ch.topic, ch.token, m), signal);
    case 'gotify':
      return post(gotifyRequest(ch.server, ch.token, m), signal);
    case 'telegram':
      return post(telegramRequest(ch.api_url, ch.bot_token, ch.chat_id, m), signal);
    case 'email':
      return sendMail({
        host: ch.host,
        port: ch.port,
        starttls: ch.starttls,
        ...(ch.username !== undefined ? { username: ch.username } : {}),
        ...(ch.password !== undefined ? { password: ch.password } : {}),
        from: ch.from,
        to: ch.to,
        subject: m.title,
        text: m.text,
        signal,
        ...(smtpCa ? { ca: smtpCa } : {}),
      });
  }
}

function view(r: Row, sealed: string[]): AlertChannelView {
  return {
    name: r.name,
    type: r.type,
    config: JSON.parse(r.config) as Fields,
    sealed,
    created_at: r.created_at,
  };
}
