import { z } from 'zod';
import { slugSchema } from './values.js';

/**
 * Alert rules (docs/alerts.md): what fires an alert. There is one rule of each kind, each with
 * sensible defaults an operator may change; only the fields changed are stored, so a default that
 * improves later reaches every field left alone.
 */

const DAY_S = 86_400;

/** Every rule: on or off, where it goes, how long the condition must hold, how often it repeats. */
const common = (hold: number, repeat: number, resolved = true) => ({
  enabled: z.boolean().default(true),
  /** Channel names, or "all" (every channel, also those added later). */
  channels: z
    .union([z.literal('all'), z.array(slugSchema).min(1, 'at least one channel, or "all"').max(64)])
    .default('all'),
  /** Seconds the condition must hold before the alert fires (0: at once). */
  hold_s: z.number().int().min(0).max(DAY_S).default(hold),
  /** Seconds between repeats while it holds (0: never repeats). */
  repeat_s: z
    .number()
    .int()
    .refine((n) => n === 0 || (n >= 10 && n <= 7 * DAY_S), '0 (never) or 10 to 604800 seconds')
    .default(repeat),
  /** Whether a message says so when the condition clears. */
  resolved: z.boolean().default(resolved),
});

const HOUR_S = 3600;

/** The one schema of the rules: each kind, its fields and defaults. */
export const alertRulesSchema = z.strictObject({
  /** An upstream server failing its health checks (on this edge or a remote one). */
  upstream_down: z.strictObject({ ...common(30, HOUR_S) }),
  /** A service's share of 5xx answers over a window (needs the traffic metrics). */
  error_rate: z.strictObject({
    ...common(0, HOUR_S),
    percent: z.number().gt(0).max(100).default(5),
    window_min: z.number().int().min(1).max(1440).default(5),
    /** Fewer requests than this in the window say nothing. */
    min_requests: z.number().int().min(1).max(1_000_000).default(20),
  }),
  /** A certificate expiring within `days`, or its last order failed. */
  certificate: z.strictObject({
    ...common(0, DAY_S),
    days: z.number().int().min(1).max(365).default(14),
  }),
  /** An edge node offline (no report for a minute) or out of sync (serving an older version). */
  edge: z.strictObject({ ...common(60, HOUR_S) }),
  /** A site's WireGuard tunnel down through an edge. */
  tunnel_down: z.strictObject({ ...common(30, HOUR_S) }),
  /** A temporary link used: once per link per `window_min` of use. */
  link_used: z.strictObject({
    ...common(0, 0, false),
    window_min: z.number().int().min(1).max(1440).default(10),
  }),
  /** Failed sign-ins (passwords and one-time codes) above `count` within `window_min`. */
  sign_in_failures: z.strictObject({
    ...common(0, HOUR_S),
    count: z.number().int().min(1).max(1_000_000).default(10),
    window_min: z.number().int().min(1).max(1440).default(5),
  }),
  /** The last backup failed (until one succeeds). */
  backup_failed: z.strictObject({ ...common(0, DAY_S) }),
});

export type AlertRules = z.output<typeof alertRulesSchema>;
export type AlertRuleName = keyof AlertRules;
export type AlertRule = AlertRules[AlertRuleName];
export const ALERT_RULE_NAMES = Object.keys(alertRulesSchema.shape) as AlertRuleName[];

/** What PUT /alert-rules/{rule} takes: any of that rule's fields. */
export function alertRulePatchSchema(rule: AlertRuleName) {
  return alertRulesSchema.shape[rule].partial();
}

/** The stored overrides: each rule's changed fields (the rest are defaults). */
export type AlertRuleOverrides = Partial<Record<AlertRuleName, Record<string, unknown>>>;

/** The rules with `overrides` over the defaults. */
export function rulesWith(overrides: AlertRuleOverrides): AlertRules {
  const whole: Record<string, unknown> = {};
  for (const name of ALERT_RULE_NAMES) whole[name] = overrides[name] ?? {};
  return alertRulesSchema.parse(whole);
}

/** One alert as GET /alerts shows it. */
export interface AlertView {
  rule: AlertRuleName;
  /** What it is about within its rule (a server, a certificate, a node…). */
  subject: string;
  title: string;
  text: string;
  /** pending: holding, not yet for the hold time; firing: sent. */
  state: 'pending' | 'firing';
  /** When the condition began (ISO). */
  since: string;
  fired_at: string | null;
  last_sent: string | null;
}

/** A channel's deliveries as the engine saw them (GET /alert-channels `delivery`). */
export interface ChannelDelivery {
  last_sent: string | null;
  last_error: string | null;
  last_error_at: string | null;
  /** Failed attempts in a row (0 when the last one went through). */
  failures: number;
  /** Messages waiting to be retried. */
  pending: number;
}
