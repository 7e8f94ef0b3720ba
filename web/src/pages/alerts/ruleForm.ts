import { alertRulePatchSchema, type AlertRuleName } from '../../../../src/model/alert-rule.js';
import type { AlertRuleView } from '../../../../src/api/views/index.js';
import { wordsOf } from '../dns/providerForm.js';

/**
 * The rule editor's logic, kept apart from React (as channelForm.ts): each rule's label and own
 * fields, the body sent (checked here first with the one model schema, as the API does), and which
 * field a complaint is about.
 */

export const RULE_LABELS: Record<AlertRuleName, string> = {
  upstream_down: 'Upstream down',
  error_rate: 'Error rate',
  certificate: 'Certificate expiring or order failed',
  edge: 'Edge offline or out of sync',
  tunnel_down: 'Tunnel down',
  link_used: 'Temporary link used',
  sign_in_failures: 'Failed sign-ins',
  backup_failed: 'Backup failed',
};

/** The fields only some rules have. */
export type OwnField = 'percent' | 'window_min' | 'min_requests' | 'days' | 'count';
export type RuleField = 'enabled' | 'channels' | 'hold_s' | 'repeat_s' | 'resolved' | OwnField;

export const OWN_FIELDS: Record<AlertRuleName, { key: OwnField; label: string }[]> = {
  upstream_down: [],
  error_rate: [
    { key: 'percent', label: 'Above this % of 5xx answers' },
    { key: 'window_min', label: 'Over this many minutes' },
    { key: 'min_requests', label: 'With at least this many requests' },
  ],
  certificate: [{ key: 'days', label: 'Expiring within (days)' }],
  edge: [],
  tunnel_down: [],
  link_used: [{ key: 'window_min', label: 'Once per link per (minutes)' }],
  sign_in_failures: [
    { key: 'count', label: 'More than this many failures' },
    { key: 'window_min', label: 'Within (minutes)' },
  ],
  backup_failed: [],
};

export interface RuleValues {
  enabled: boolean;
  resolved: boolean;
  /** "all", or channel names separated by commas. */
  channels: string;
  hold_s: string;
  repeat_s: string;
  percent: string;
  window_min: string;
  min_requests: string;
  days: string;
  count: string;
}

const text = (v: unknown) => (v === undefined || v === null ? '' : String(v));

/** The form's values for a rule as the API shows it. */
export function valuesOf(r: AlertRuleView): RuleValues {
  const s = r.settings;
  return {
    enabled: s.enabled !== false,
    resolved: s.resolved !== false,
    channels: Array.isArray(s.channels) ? s.channels.join(', ') : text(s.channels) || 'all',
    hold_s: text(s.hold_s),
    repeat_s: text(s.repeat_s),
    percent: text(s.percent),
    window_min: text(s.window_min),
    min_requests: text(s.min_requests),
    days: text(s.days),
    count: text(s.count),
  };
}

/** A number typed in a field: the number, or the text itself (the schema then names the field). */
function num(v: string): number | string {
  const t = v.trim();
  return t !== '' && Number.isFinite(Number(t)) ? Number(t) : t;
}

/** The PUT body: every field the rule has. */
export function ruleBodyOf(rule: AlertRuleName, v: RuleValues): Record<string, unknown> {
  const ch = v.channels.trim();
  const body: Record<string, unknown> = {
    enabled: v.enabled,
    resolved: v.resolved,
    channels:
      ch === '' || ch === 'all'
        ? 'all'
        : ch
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
    hold_s: num(v.hold_s),
    repeat_s: num(v.repeat_s),
  };
  for (const f of OWN_FIELDS[rule]) body[f.key] = num(v[f.key]);
  return body;
}

/** Which form field an issue's path is about. */
export function ruleFieldOf(path: string): RuleField | undefined {
  const head = path.split('.')[0] ?? '';
  const known: RuleField[] = [
    'enabled',
    'channels',
    'hold_s',
    'repeat_s',
    'resolved',
    'percent',
    'window_min',
    'min_requests',
    'days',
    'count',
  ];
  return known.find((k) => k === head);
}

/** The model's verdict on the body, per field; undefined when it passes. */
export function checkRule(
  rule: AlertRuleName,
  v: RuleValues,
): Partial<Record<RuleField, string>> | undefined {
  const r = alertRulePatchSchema(rule).safeParse(ruleBodyOf(rule, v));
  if (r.success) return undefined;
  const errors: Partial<Record<RuleField, string>> = {};
  for (const issue of r.error.issues) {
    const f = ruleFieldOf(issue.path.map(String).join('.'));
    if (f && !errors[f]) errors[f] = wordsOf(issue);
  }
  return Object.keys(errors).length ? errors : { hold_s: r.error.issues[0]?.message ?? 'not valid' };
}

/** "30 s", "1 h", "never" */
export function seconds(n: unknown): string {
  if (typeof n !== 'number') return '';
  if (n === 0) return '0 s';
  if (n % 3600 === 0) return `${n / 3600} h`;
  if (n % 60 === 0) return `${n / 60} min`;
  return `${n} s`;
}
