import { createHmac } from 'node:crypto';
import type { AlertMessage } from '../model/alert-channel.js';

/**
 * The HTTP transports of alert channels: each builds the request its service's real API takes
 * (docs/alerts.md). `post` throws a plain Error saying what the far end said; the caller names the
 * channel. Nothing here puts a URL in an error: webhook URLs carry tokens.
 */

export interface HttpSend {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** How to tell the far end refused though it answered 2xx (Telegram answers `ok: false`). */
  check?: (text: string) => string | undefined;
}

/** POSTs with a time limit; resolves on 2xx, throws with the status and the far end's words. */
export async function post(req: HttpSend, signal: AbortSignal): Promise<void> {
  let res: Response;
  try {
    res = await fetch(req.url, {
      method: 'POST',
      headers: req.headers,
      body: req.body,
      signal,
      redirect: 'error',
    });
  } catch (err) {
    if (signal.aborted) throw new Error('no answer in time', { cause: err });
    throw new Error(`could not reach it: ${causeOf(err)}`, { cause: err });
  }
  const text = await res.text().catch(() => '');
  if (!res.ok) throw new Error(`it answered ${res.status}${text ? `: ${snippet(text)}` : ''}`);
  const refused = req.check?.(text);
  if (refused) throw new Error(refused);
}

/** The far end's answer, short and on one line. */
export function snippet(text: string): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > 200 ? `${one.slice(0, 200)}…` : one;
}

/** A network error's reason (fetch's "fetch failed" hides it in `cause`), without the URL. */
function causeOf(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  const code = (cause as { code?: unknown }).code;
  return typeof code === 'string' ? code : cause instanceof Error ? cause.message : String(cause);
}

const JSON_HEADERS = { 'content-type': 'application/json' };

/** The generic webhook: JSON, signed over `<timestamp>.<body>` when a secret is set. */
export function webhookRequest(
  url: string,
  secret: string | undefined,
  channel: string,
  m: AlertMessage,
  now = new Date(),
): HttpSend {
  const body = JSON.stringify({
    channel,
    title: m.title,
    text: m.text,
    ...(m.alert ? { alert: m.alert } : {}),
    sent_at: now.toISOString(),
  });
  const headers: Record<string, string> = { ...JSON_HEADERS, 'user-agent': 'Gatehouse' };
  if (secret) {
    const ts = String(Math.floor(now.getTime() / 1000));
    headers['x-gatehouse-timestamp'] = ts;
    headers['x-gatehouse-signature'] = `sha256=${signature(secret, ts, body)}`;
  }
  return { url, headers, body };
}

/** HMAC-SHA256 (hex) of `<timestamp>.<body>`: what a receiver recomputes to verify a webhook. */
export function signature(secret: string, timestamp: string, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/** Slack incoming webhooks take `{text}` (mrkdwn). */
export function slackRequest(url: string, m: AlertMessage): HttpSend {
  return { url, headers: JSON_HEADERS, body: JSON.stringify({ text: `*${m.title}*\n${m.text}` }) };
}

/** Discord webhooks take `{content}` (at most 2000 characters). */
export function discordRequest(url: string, m: AlertMessage): HttpSend {
  const content = `**${m.title}**\n${m.text}`.slice(0, 2000);
  return { url, headers: JSON_HEADERS, body: JSON.stringify({ content, allowed_mentions: { parse: [] } }) };
}

/** Teams Workflows webhooks take a message with an Adaptive Card attachment. */
export function teamsRequest(url: string, m: AlertMessage): HttpSend {
  const card = {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.4',
    body: [
      { type: 'TextBlock', text: m.title, weight: 'Bolder', size: 'Medium', wrap: true },
      { type: 'TextBlock', text: m.text, wrap: true },
    ],
  };
  const body = {
    type: 'message',
    attachments: [
      { contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content: card },
    ],
  };
  return { url, headers: JSON_HEADERS, body: JSON.stringify(body) };
}

/** ntfy: POST <server>/<topic>, the text as the body, the title in a header (RFC 2047 when not ASCII). */
export function ntfyRequest(
  server: string,
  topic: string,
  token: string | undefined,
  m: AlertMessage,
): HttpSend {
  const headers: Record<string, string> = {
    'content-type': 'text/plain; charset=utf-8',
    title: headerText(m.title),
  };
  if (token) headers.authorization = `Bearer ${token}`;
  return { url: `${server.replace(/\/+$/, '')}/${topic}`, headers, body: m.text };
}

/** Gotify: POST <server>/message with the application token in X-Gotify-Key. */
export function gotifyRequest(server: string, token: string, m: AlertMessage): HttpSend {
  return {
    url: `${server.replace(/\/+$/, '')}/message`,
    headers: { ...JSON_HEADERS, 'x-gotify-key': token },
    body: JSON.stringify({ title: m.title, message: m.text, priority: 5 }),
  };
}

/** Telegram's Bot API: POST <api>/bot<token>/sendMessage `{chat_id, text}`; it answers `{ok}`. */
export function telegramRequest(apiUrl: string, botToken: string, chatId: string, m: AlertMessage): HttpSend {
  return {
    url: `${apiUrl.replace(/\/+$/, '')}/bot${botToken}/sendMessage`,
    headers: JSON_HEADERS,
    body: JSON.stringify({ chat_id: chatId, text: `${m.title}\n${m.text}`.slice(0, 4096) }),
    check: (text) => {
      try {
        const r = JSON.parse(text) as { ok?: unknown; description?: unknown };
        if (r.ok === true) return undefined;
        return `it refused: ${typeof r.description === 'string' ? snippet(r.description) : snippet(text)}`;
      } catch {
        return `it answered something other than JSON: ${snippet(text)}`;
      }
    },
  };
}

/** A header value: ASCII as it is, else RFC 2047 base64 (ntfy and mail readers decode it). */
export function headerText(s: string): string {
  const flat = s.replace(/[\r\n]+/g, ' ');
  return /^[\x20-\x7e]*$/.test(flat) ? flat : `=?UTF-8?B?${Buffer.from(flat, 'utf8').toString('base64')}?=`;
}
