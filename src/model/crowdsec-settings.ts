import { z } from 'zod';
import { durationMs, durationSchema } from './values.js';

/** CrowdSec settings (src/gate/crowdsec.ts, src/drivers/nginx/decisions.ts; docs/crowdsec.md). */
export const crowdsecSettings = {
  /**
   * The CrowdSec Local API Gatehouse is a bouncer of (`http://127.0.0.1:8080`): its decisions are
   * enforced on every edge. Unset: none are.
   */
  crowdsec_url: z
    .url({ protocol: /^https?$/, error: 'the Local API URL, e.g. http://127.0.0.1:8080' })
    .optional(),
  /** The bouncer's key (`cscli bouncers add gatehouse`). */
  crowdsec_api_key: z
    .string()
    .min(16, 'at least 16 characters')
    .regex(/^[\x21-\x7e]+$/, 'printable characters without spaces')
    .optional(),
  /** How often the Local API is asked what changed (its decision stream). */
  crowdsec_poll_interval: durationSchema
    .refine((d) => durationMs(d) >= 200 && durationMs(d) <= 60_000, 'from 200ms to 60s')
    .default('2s'),
};

/** A Local API without a key (or a key without one) is a mistake: named, not ignored. */
export function checkCrowdsec(
  s: { crowdsec_url?: string | undefined; crowdsec_api_key?: string | undefined },
  ctx: z.RefinementCtx,
): void {
  if (s.crowdsec_url && !s.crowdsec_api_key)
    ctx.addIssue({
      code: 'custom',
      path: ['crowdsec_api_key'],
      message: 'needed with crowdsec_url: the key `cscli bouncers add gatehouse` prints',
    });
  if (s.crowdsec_api_key && !s.crowdsec_url)
    ctx.addIssue({ code: 'custom', path: ['crowdsec_url'], message: 'needed with crowdsec_api_key' });
}
