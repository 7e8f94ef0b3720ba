import { conflict, GatehouseError, notFound } from '../model/errors.js';
import {
  SEALED_ALERT_FIELDS,
  type AlertChannelInput,
  type AlertChannelView,
  type AlertMessage,
} from '../model/alert-channel.js';
import { send, SEND_LIMIT_MS } from '../observe/alert-channels.js';
import { sendMail } from '../observe/smtp.js';
import type { Database, Db } from '../store/db.js';
import type { Sealer } from '../store/secrets.js';

type Row = Database['alert_channels'];
type Fields = Record<string, unknown>;

/** Where alerts are sent (docs/alerts.md): channels, their secrets sealed, and sending to them. */
export class AlertChannels {
  constructor(
    private readonly db: Db,
    private readonly sealer: Sealer,
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
    const row = await this.row(name);
    const channel = { ...(JSON.parse(row.config) as Fields), ...this.secretOf(row), name, type: row.type };
    const limit = SEND_LIMIT_MS;
    try {
      await send(channel as AlertChannelInput, message, AbortSignal.timeout(limit));
    } catch (err) {
      let why = err instanceof Error ? err.message : String(err);
      if (why === 'no answer in time') why = `no answer within ${limit / 1000} s`;
      throw new GatehouseError('alert_failed', `alert channel ${name} (${row.type}): ${why}`, 502);
    }
  }

  /**
   * One email to `to` through the server of the email channel `name` (its `to` list is not used):
   * how the gate sends sign-in links. Fails naming the channel when it is missing or not email.
   */
  async mailTo(name: string, to: string, subject: string, text: string): Promise<void> {
    const row = await this.row(name);
    if (row.type !== 'email')
      throw new GatehouseError('not_email', `alert channel ${name} is ${row.type}, not email`, 409);
    const c = { ...(JSON.parse(row.config) as Fields), ...this.secretOf(row) } as Extract<
      AlertChannelInput,
      { type: 'email' }
    >;
    await sendMail({
      host: c.host,
      port: c.port,
      starttls: c.starttls,
      ...(c.username !== undefined ? { username: c.username } : {}),
      ...(c.password !== undefined ? { password: c.password } : {}),
      from: c.from,
      to: [to],
      subject,
      text,
      signal: AbortSignal.timeout(SEND_LIMIT_MS),
    });
  }

  private async row(name: string): Promise<Row> {
    const row = await this.db
      .selectFrom('alert_channels')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) throw notFound(`alert channel ${name}`);
    return row;
  }

  private secretOf(row: Row): Fields {
    return JSON.parse(this.sealer.open(row.secret_sealed)) as Fields;
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
