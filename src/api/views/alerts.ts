import { z } from 'zod';

/** A channel's deliveries as the alert engine saw them. */
export const channelDeliveryView = z.strictObject({
  last_sent: z.string().nullable(),
  last_error: z.string().nullable(),
  last_error_at: z.string().nullable(),
  /** Failed attempts in a row (0 when the last one went through). */
  failures: z.number(),
  /** Messages waiting to be tried again (with backoff). */
  pending: z.number(),
});

/** An alert channel (docs/alerts.md): never a secret, only which secret fields are set. */
export const alertChannelView = z.strictObject({
  name: z.string(),
  type: z.string(),
  /** The settings without secrets; `url_origin` where the URL itself is sealed. */
  config: z.record(z.string(), z.unknown()),
  /** The secret fields that are set (their values are never shown). */
  sealed: z.array(z.string()),
  created_at: z.string(),
  /** What the alert engine saw sending to it (absent before its first alert). */
  delivery: channelDeliveryView.optional(),
});
export const alertChannelListView = z.strictObject({ channels: z.array(alertChannelView) });
/** POST /alert-channels/{name}/test: delivered (a failure is a 502 error saying why). */
export const alertTestView = z.strictObject({ ok: z.literal(true), channel: z.string() });

export type AlertChannelView = z.infer<typeof alertChannelView>;
export type AlertChannelList = z.infer<typeof alertChannelListView>;
export type AlertTest = z.infer<typeof alertTestView>;

/** One alert: a rule's condition about one subject (docs/alerts.md). */
export const alertView = z.strictObject({
  rule: z.string(),
  subject: z.string(),
  title: z.string(),
  text: z.string(),
  state: z.enum(['pending', 'firing']),
  since: z.string(),
  fired_at: z.string().nullable(),
  last_sent: z.string().nullable(),
});
/** GET /alerts: firing alerts, those holding (pending), and when the leader last stored them. */
export const alertListView = z.strictObject({
  alerts: z.array(alertView),
  pending: z.array(alertView),
  updated_at: z.string().nullable(),
});
/** A rule: its kind, its settings (defaults where not changed) and which fields were changed. */
export const alertRuleView = z.strictObject({
  rule: z.string(),
  settings: z.record(z.string(), z.unknown()),
  changed: z.array(z.string()),
  /** Why the rule cannot fire here (error_rate without traffic metrics), else null. */
  unavailable: z.string().nullable(),
});
export const alertRuleListView = z.strictObject({ rules: z.array(alertRuleView) });

export type ChannelDeliveryView = z.infer<typeof channelDeliveryView>;
export type AlertViewItem = z.infer<typeof alertView>;
export type AlertList = z.infer<typeof alertListView>;
export type AlertRuleView = z.infer<typeof alertRuleView>;
export type AlertRuleList = z.infer<typeof alertRuleListView>;
