import { z } from 'zod';

/** An alert channel (docs/alerts.md): never a secret, only which secret fields are set. */
export const alertChannelView = z.strictObject({
  name: z.string(),
  type: z.string(),
  /** The settings without secrets; `url_origin` where the URL itself is sealed. */
  config: z.record(z.string(), z.unknown()),
  /** The secret fields that are set (their values are never shown). */
  sealed: z.array(z.string()),
  created_at: z.string(),
});
export const alertChannelListView = z.strictObject({ channels: z.array(alertChannelView) });
/** POST /alert-channels/{name}/test: delivered (a failure is a 502 error saying why). */
export const alertTestView = z.strictObject({ ok: z.literal(true), channel: z.string() });

export type AlertChannelView = z.infer<typeof alertChannelView>;
export type AlertChannelList = z.infer<typeof alertChannelListView>;
export type AlertTest = z.infer<typeof alertTestView>;
