import { z } from 'zod';

/** GET /crowdsec: CrowdSec's decisions as Gatehouse enforces them (src/gate/crowdsec.ts). */

export const crowdsecDecisionView = z.strictObject({
  id: z.number(),
  origin: z.string(),
  scenario: z.string(),
  scope: z.string(),
  value: z.string(),
  type: z.enum(['ban', 'captcha']),
  until: z.string(),
});

export const crowdsecStatusView = z.strictObject({
  url: z.string(),
  connected: z.boolean(),
  lastPullAt: z.string().optional(),
  lastError: z.string().optional(),
  decisions: z.number(),
  ignored: z.number(),
  version: z.string(),
});

export const crowdsecView = z.strictObject({
  /** A Local API is set (crowdsec_url): its decisions are enforced. */
  enabled: z.boolean(),
  status: crowdsecStatusView.optional(),
  decisions: z.array(crowdsecDecisionView),
});

export type CrowdsecDecisionView = z.infer<typeof crowdsecDecisionView>;
export type CrowdsecView = z.infer<typeof crowdsecView>;
