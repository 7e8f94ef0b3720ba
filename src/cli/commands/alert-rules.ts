import { Command } from 'commander';
import type { AlertList, AlertRuleList, AlertRuleView } from '../../api/views/index.js';
import { invalid } from '../../model/errors.js';
import { durationMs } from '../../model/values.js';
import { cliContext } from '../context.js';
import { table } from '../format.js';

interface SetOptions {
  enable?: boolean;
  disable?: boolean;
  channels?: string;
  hold?: string;
  repeat?: string;
  resolved?: string;
  set?: string[];
}

/** A duration flag (30s, 5m, 1h, or 0) in whole seconds. */
function seconds(flag: string, v: string): number {
  if (v === '0') return 0;
  try {
    const ms = durationMs(v);
    if (ms % 1000 === 0) return ms / 1000;
  } catch {
    // Reported below.
  }
  throw invalid(flag, `${flag}: a duration in whole seconds such as 30s, 5m, 1h (or 0)`);
}

/** `--set field=value`: a number, true/false, or text. */
function fieldValue(v: string): unknown {
  if (v === 'true' || v === 'false') return v === 'true';
  if (v === 'null') return null;
  return /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
}

/** `gatehouse alert ls` (alerts now) and `gatehouse alert rule …` (what fires them). */
export function addAlertRuleCommands(cmd: Command): void {
  cmd
    .command('ls')
    .description('alerts firing now, and those holding but not yet for their hold time')
    .action(async (_o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<AlertList>('GET', '/api/v1/alerts');
      const rows = [...r.alerts, ...r.pending].map((a) => [a.state.toUpperCase(), a.rule, a.title, a.since]);
      ctx.print(rows.length ? table(['STATE', 'RULE', 'ALERT', 'SINCE'], rows) : 'no alerts', r);
    });
  const rule = new Command('rule').description(
    'alert rules: what fires an alert, where it goes, when it repeats',
  );
  rule
    .command('ls')
    .description('every rule with its settings (defaults where unchanged)')
    .action(async (_o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<AlertRuleList>('GET', '/api/v1/alert-rules');
      ctx.print(
        table(
          ['RULE', 'ON', 'HOLD', 'REPEAT', 'CHANNELS', 'SETTINGS'],
          r.rules.map((x) => row(x)),
        ),
        r,
      );
    });
  rule
    .command('set <rule>')
    .description('change a rule (the fields not given keep their values)')
    .option('--enable', 'turn the rule on')
    .option('--disable', 'turn the rule off')
    .option('--channels <names>', 'comma-separated channel names, or "all"')
    .option('--hold <duration>', 'how long the condition must hold before it fires (30s, 5m, 0)')
    .option('--repeat <duration>', 'how often it repeats while it holds (1h; 0: never)')
    .option('--resolved <yes|no>', 'send a message when it clears')
    .option(
      '--set <field=value>',
      "a rule's own field, e.g. percent=5, window_min=10, count=20, days=14 (repeatable)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .action(async (name: string, o: SetOptions, c: Command) => {
      const ctx = cliContext(c);
      if (o.enable && o.disable) throw invalid('--enable', '--enable and --disable together');
      const body: Record<string, unknown> = {};
      if (o.enable) body.enabled = true;
      if (o.disable) body.enabled = false;
      if (o.channels !== undefined)
        body.channels = o.channels === 'all' ? 'all' : o.channels.split(',').map((s) => s.trim());
      if (o.hold !== undefined) body.hold_s = seconds('--hold', o.hold);
      if (o.repeat !== undefined) body.repeat_s = seconds('--repeat', o.repeat);
      if (o.resolved !== undefined) {
        if (!['yes', 'no'].includes(o.resolved)) throw invalid('--resolved', '--resolved: yes or no');
        body.resolved = o.resolved === 'yes';
      }
      for (const kv of o.set ?? []) {
        const i = kv.indexOf('=');
        if (i < 1) throw invalid('--set', `--set ${kv}: field=value`);
        body[kv.slice(0, i)] = fieldValue(kv.slice(i + 1));
      }
      const r = await ctx.client.call<AlertRuleView>(
        'PUT',
        `/api/v1/alert-rules/${encodeURIComponent(name)}`,
        body,
      );
      ctx.print(table(['RULE', 'ON', 'HOLD', 'REPEAT', 'CHANNELS', 'SETTINGS'], [row(r)]), r);
    });
  rule
    .command('reset <rule>')
    .description('put every field of a rule back to its default')
    .action(async (name: string, _o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<AlertRuleView>(
        'DELETE',
        `/api/v1/alert-rules/${encodeURIComponent(name)}`,
      );
      ctx.print(table(['RULE', 'ON', 'HOLD', 'REPEAT', 'CHANNELS', 'SETTINGS'], [row(r)]), r);
    });
  cmd.addCommand(rule);
}

const COMMON = new Set(['enabled', 'channels', 'hold_s', 'repeat_s', 'resolved']);

function row(r: AlertRuleView): string[] {
  const s = r.settings;
  const own = Object.entries(s)
    .filter(([k]) => !COMMON.has(k))
    .map(([k, v]) => `${k}=${String(v)}`);
  if (s.resolved === false) own.push('no resolved message');
  if (r.unavailable) own.push(`(unavailable: ${r.unavailable})`);
  return [
    r.rule,
    s.enabled ? 'yes' : 'no',
    `${String(s.hold_s)}s`,
    s.repeat_s ? `${String(s.repeat_s)}s` : 'never',
    Array.isArray(s.channels) ? s.channels.join(',') : String(s.channels),
    own.join(' ') || '-',
  ];
}
