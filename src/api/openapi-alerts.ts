import { alertChannelSchema } from '../model/alert-channel.js';
import { ALERT_RULE_NAMES, alertRulesSchema } from '../model/alert-rule.js';
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
    '/alerts': {
      get: read(
        'Alerts firing now, those holding but not yet for their hold time (pending), as the leader stored them',
        ['Alerts', 'AlertList'],
      ),
    },
    '/alert-rules': {
      get: read(`Alert rules (${ALERT_RULE_NAMES.join(', ')}): settings, defaults where unchanged`, [
        'Alert rules',
        'AlertRuleList',
      ]),
    },
    '/alert-rules/{rule}': {
      get: read('One alert rule', ['Alert rule', 'AlertRuleView'], [pathParam('rule')]),
      put: op({
        summary:
          "Change some of a rule's fields (the others keep their values); null puts a field's default back. Each rule's fields: the schema's properties under its name",
        parameters: [pathParam('rule')],
        requestBody: body(inputSchema(alertRulesSchema)),
        answers: { 200: ['Changed', 'AlertRuleView'] },
      }),
      delete: op({
        summary: 'Put every field of a rule back to its default',
        parameters: [pathParam('rule')],
        answers: { 200: ['Reset', 'AlertRuleView'] },
      }),
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
