import { alertChannelSchema } from '../model/alert-channel.js';
import { body, create, inputSchema, op, pathParam, read, remove } from './openapi-build.js';

/** Alert channels (docs/alerts.md). */
export function alertPaths(): Record<string, object> {
  return {
    '/alert-channels': {
      get: read("Alert channels: each one's settings and which secret fields are set (never a secret)", [
        'Alert channels',
        'AlertChannelList',
      ]),
      post: create(
        'Add an alert channel (webhook, slack, discord, teams, ntfy, gotify, telegram, email); secret fields are sealed',
        body(inputSchema(alertChannelSchema)),
        ['Added', 'AlertChannelView'],
      ),
    },
    '/alert-channels/{name}': {
      delete: remove('Remove an alert channel', pathParam('name')),
    },
    '/alert-channels/{name}/test': {
      post: op({
        summary:
          'Send "Gatehouse test message" to the channel; 502 with the channel and what the far end said when it fails (10 s limit)',
        parameters: [pathParam('name')],
        answers: { 200: ['Delivered', 'AlertTest'] },
      }),
    },
  };
}
