import { Command } from 'commander';
import type { AlertChannelList, AlertChannelView, AlertTest } from '../../api/views/index.js';
import { GatehouseError } from '../../model/errors.js';
import { cliContext, collect, removeCommand } from '../context.js';
import { table } from '../format.js';
import { addAlertRuleCommands } from './alert-rules.js';

interface AddOptions {
  type: string;
  url?: string;
  server?: string;
  topic?: string;
  chatId?: string;
  apiUrl?: string;
  host?: string;
  port?: string;
  starttls?: boolean;
  username?: string;
  from?: string;
  to?: string[];
  secretsStdin?: boolean;
}

/** Secret fields as a JSON object on standard input (never on the command line, where `ps` shows them). */
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

/** `gatehouse alert …`: alert channels and test messages (docs/alerts.md). */
export function alertCommand(): Command {
  const cmd = new Command('alert').description(
    'alerts: what fires them (rules), where they are sent (channels), a test message (docs/alerts.md)',
  );
  const channel = new Command('channel').description(
    'alert channels (webhook, slack, discord, teams, ntfy, gotify, telegram, email)',
  );
  channel
    .command('add <name>')
    .description(
      'add a channel; secret fields (url of webhook/slack/discord/teams, secret, token, bot_token, ' +
        'password) go as a JSON object on standard input with --secrets-stdin',
    )
    .requiredOption('--type <type>', 'webhook | slack | discord | teams | ntfy | gotify | telegram | email')
    .option('--url <url>', 'webhook, slack, discord, teams: the URL (better on stdin: it may hold a token)')
    .option('--server <url>', 'ntfy, gotify: the server URL')
    .option('--topic <topic>', 'ntfy: the topic')
    .option('--chat-id <id>', 'telegram: the chat id')
    .option('--api-url <url>', 'telegram: the Bot API base (default https://api.telegram.org)')
    .option('--host <host>', 'email: the SMTP server')
    .option('--port <port>', 'email: its port (default 587)')
    .option('--no-starttls', 'email: do not upgrade to TLS (no password is then sent)')
    .option('--username <name>', 'email: the SMTP user name (the password on stdin)')
    .option('--from <address>', 'email: the sender')
    .option('--to <address>', 'email: a recipient (repeatable)', collect)
    .option('--secrets-stdin', 'read the secret fields as a JSON object from standard input')
    .action(async (name: string, o: AddOptions, c: Command) => {
      const ctx = cliContext(c);
      const secrets = o.secretsStdin ? await stdinJson() : {};
      const port = o.port === undefined ? undefined : Number(o.port);
      const email = o.type === 'email';
      const body: Record<string, unknown> = {
        name,
        type: o.type,
        ...(o.url ? { url: o.url } : {}),
        ...(o.server ? { server: o.server } : {}),
        ...(o.topic ? { topic: o.topic } : {}),
        ...(o.chatId ? { chat_id: o.chatId } : {}),
        ...(o.apiUrl ? { api_url: o.apiUrl } : {}),
        ...(o.host ? { host: o.host } : {}),
        ...(port !== undefined ? { port } : {}),
        ...(email ? { starttls: o.starttls !== false } : {}),
        ...(o.username ? { username: o.username } : {}),
        ...(o.from ? { from: o.from } : {}),
        ...(o.to ? { to: o.to } : {}),
        ...secrets,
      };
      const r = await ctx.client.call<AlertChannelView>('POST', '/api/v1/alert-channels', body);
      ctx.print(`added alert channel ${r.name} (${r.type}); try it: gatehouse alert test ${r.name}`, r);
    });
  channel
    .command('ls')
    .description('list alert channels (never a secret)')
    .action(async (_o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<AlertChannelList>('GET', '/api/v1/alert-channels');
      ctx.print(
        table(
          ['NAME', 'TYPE', 'WHERE', 'SECRETS', 'LAST SENT', 'LAST ERROR'],
          r.channels.map((ch) => [
            ch.name,
            ch.type,
            where(ch),
            ch.sealed.join(',') || '-',
            ch.delivery?.last_sent ?? '-',
            failing(ch),
          ]),
        ),
        r,
      );
    });
  removeCommand(
    channel,
    'rm <name>',
    'remove an alert channel',
    '/api/v1/alert-channels/',
    'removed alert channel',
  );
  cmd.addCommand(channel);
  addAlertRuleCommands(cmd);
  cmd
    .command('test <name>')
    .description('send "Gatehouse test message" to a channel (fails naming what the far end said)')
    .action(async (name: string, _o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<AlertTest>(
        'POST',
        `/api/v1/alert-channels/${encodeURIComponent(name)}/test`,
      );
      ctx.print(`test message delivered to ${name}`, r);
    });
  return cmd;
}

/** The last delivery error, while the channel fails (with how many attempts in a row). */
function failing(ch: AlertChannelView): string {
  const d = ch.delivery;
  if (!d?.last_error || d.failures === 0) return '-';
  return `${d.last_error} (${d.failures} in a row${d.pending ? `, ${d.pending} waiting` : ''})`;
}

/** Where a channel sends, as far as it may be shown. */
function where(ch: AlertChannelView): string {
  const c = ch.config;
  const s = (k: string) => (typeof c[k] === 'string' ? c[k] : '');
  if (s('url_origin')) return s('url_origin');
  if (ch.type === 'ntfy') return `${s('server')}/${s('topic')}`;
  if (ch.type === 'gotify') return s('server');
  if (ch.type === 'telegram') return `chat ${s('chat_id')}`;
  if (ch.type === 'email')
    return `${s('host')}:${String(c.port)} → ${Array.isArray(c.to) ? c.to.join(',') : ''}`;
  return '';
}
