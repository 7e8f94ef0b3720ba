import type { AlertChannelInput, AlertMessage } from '../model/alert-channel.js';
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

/**
 * Sending to an alert channel (docs/alerts.md): one transport per type. Failures throw a plain Error
 * saying what the far end said (the caller names the channel); `no answer in time` past the signal.
 */

/** How long one message may take to be delivered. */
export const SEND_LIMIT_MS = 10_000;

export const TEST_MESSAGE: AlertMessage = {
  title: 'Gatehouse test message',
  text: 'This is a test message from Gatehouse: this channel works.',
};

/** Sends one message over the channel's transport, within `signal`'s time. */
export async function send(ch: AlertChannelInput, m: AlertMessage, signal: AbortSignal): Promise<void> {
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
      });
  }
}
