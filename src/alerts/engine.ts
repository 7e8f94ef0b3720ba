import type { AlertMessage } from '../model/alert-channel.js';
import {
  ALERT_RULE_NAMES,
  type AlertRuleName,
  type AlertRules,
  type AlertView,
} from '../model/alert-rule.js';
import type { Logger } from '../observe/log.js';

/** A condition that holds now: what a rule found (docs/alerts.md). */
export interface Condition {
  rule: AlertRuleName;
  /** What it is about within its rule; one alert per rule and subject. */
  subject: string;
  title: string;
  text: string;
  /** When it began (ms), when the source knows; else when the engine first saw it. */
  since?: number;
}

/** Where an alert goes: the delivery queues. */
export interface Dispatch {
  dispatch(m: AlertMessage, to: 'all' | readonly string[]): Promise<void>;
}

export interface EngineOptions {
  rules: () => Promise<AlertRules>;
  /** Every condition that holds now under `rules`. */
  conditions: (rules: AlertRules, now: number) => Promise<Condition[]>;
  out: Dispatch;
  log: Logger;
  /** How often every rule is looked at (besides the pokes); default 5 s. */
  intervalMs?: number;
  /** The alerts whenever they change (stored for every replica's GET /alerts). */
  save?: (alerts: AlertView[]) => Promise<void>;
}

interface Tracked {
  rule: AlertRuleName;
  subject: string;
  title: string;
  text: string;
  since: number;
  firedAt?: number;
  lastSent?: number;
}

const keyOf = (rule: string, subject: string) => `${rule}\u0000${subject}`;
const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** "2m 5s" */
export function span(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const parts = [
    [Math.floor(s / 86_400), 'd'],
    [Math.floor(s / 3600) % 24, 'h'],
    [Math.floor(s / 60) % 60, 'm'],
    [s % 60, 's'],
  ] as const;
  const shown = parts.filter(([n]) => n > 0).map(([n, u]) => `${n}${u}`);
  return shown.length ? shown.slice(0, 2).join(' ') : '0s';
}

/**
 * Alerts from rules: a condition that has held for its rule's hold time fires once (a message to
 * the rule's channels), repeats every repeat interval while it holds, and a resolved message goes
 * out when it clears. It looks every `intervalMs`, when poked (an upstream went down, a security
 * event), and exactly when a pending alert's hold time is up. Runs on the leader only.
 */
export class AlertEngine {
  private readonly tracked = new Map<string, Tracked>();
  private timer: NodeJS.Timeout | undefined;
  private due: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;

  constructor(private readonly o: EngineOptions) {}

  /** Takes back alerts a previous leader (or this process before a restart) stored. */
  restore(saved: AlertView[]): void {
    for (const a of saved) {
      // One of a rule this version does not have (a downgrade): forgotten.
      if (!ALERT_RULE_NAMES.includes(a.rule)) continue;
      const t: Tracked = {
        rule: a.rule,
        subject: a.subject,
        title: a.title,
        text: a.text,
        since: Date.parse(a.since),
      };
      if (a.fired_at) t.firedAt = Date.parse(a.fired_at);
      if (a.last_sent) t.lastSent = Date.parse(a.last_sent);
      this.tracked.set(keyOf(a.rule, a.subject), t);
    }
  }

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.poke(), this.o.intervalMs ?? 5000);
    this.timer.unref?.();
    this.poke();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.due) clearTimeout(this.due);
    await this.running;
  }

  /** Look now (one pass at a time; a poke during a pass runs one more after it). */
  poke(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.evaluate()
      .catch((err: unknown) => this.o.log.error({ err: String(err) }, 'alert rules: a pass failed'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
  }

  /** The alerts now: pending (holding, not yet sent) and firing. */
  alerts(): AlertView[] {
    return [...this.tracked.values()]
      .map((t) => ({
        rule: t.rule,
        subject: t.subject,
        title: t.title,
        text: t.text,
        state: t.firedAt === undefined ? ('pending' as const) : ('firing' as const),
        since: new Date(t.since).toISOString(),
        fired_at: iso(t.firedAt),
        last_sent: iso(t.lastSent),
      }))
      .sort((a, b) => a.since.localeCompare(b.since) || a.rule.localeCompare(b.rule));
  }

  /** One pass: every rule's conditions, then what to send. */
  async evaluate(): Promise<void> {
    const rules = await this.o.rules();
    const now = Date.now();
    const found = await this.o.conditions(rules, now);
    let changed = false;
    const seen = new Set<string>();
    let nextDue = Infinity;
    for (const c of found) {
      const rule = rules[c.rule];
      if (!rule.enabled) continue;
      const key = keyOf(c.rule, c.subject);
      seen.add(key);
      let t = this.tracked.get(key);
      if (!t) {
        t = {
          rule: c.rule,
          subject: c.subject,
          title: c.title,
          text: c.text,
          since: Math.min(c.since ?? now, now),
        };
        this.tracked.set(key, t);
        changed = true;
      } else if (t.text !== c.text || t.title !== c.title) {
        t.title = c.title;
        t.text = c.text;
        changed = true;
      }
      const holdMs = rule.hold_s * 1000;
      if (t.firedAt === undefined) {
        if (now - t.since >= holdMs) {
          t.firedAt = t.lastSent = now;
          changed = true;
          await this.send(rule.channels, `[FIRING] ${t.title}`, t.text, t, 'firing');
        } else nextDue = Math.min(nextDue, t.since + holdMs);
      } else if (rule.repeat_s > 0) {
        const repeatAt = (t.lastSent ?? t.firedAt) + rule.repeat_s * 1000;
        if (now >= repeatAt) {
          t.lastSent = now;
          changed = true;
          await this.send(
            rule.channels,
            `[FIRING] ${t.title}`,
            `${t.text}\nStill so after ${span(now - t.since)}.`,
            t,
            'firing',
          );
        } else nextDue = Math.min(nextDue, repeatAt);
      }
    }
    for (const [key, t] of this.tracked) {
      if (seen.has(key)) continue;
      this.tracked.delete(key);
      changed = true;
      const rule = rules[t.rule] as AlertRules[AlertRuleName] | undefined;
      // Sent only for an alert that fired, under a rule still on that says so.
      if (t.firedAt !== undefined && rule?.enabled && rule.resolved)
        await this.send(
          rule.channels,
          `[RESOLVED] ${t.title}`,
          `Cleared after ${span(now - t.since)}.`,
          t,
          'resolved',
        );
    }
    this.schedule(nextDue, now);
    if (changed) await this.o.save?.(this.alerts());
  }

  private schedule(at: number, now: number): void {
    if (this.due) clearTimeout(this.due);
    this.due = undefined;
    if (this.stopped || at === Infinity) return;
    this.due = setTimeout(() => this.poke(), Math.max(0, at - now) + 5);
    this.due.unref?.();
  }

  private async send(
    to: 'all' | readonly string[],
    title: string,
    text: string,
    t: Tracked,
    state: 'firing' | 'resolved',
  ): Promise<void> {
    this.o.log.info({ title }, 'alert');
    const alert = { rule: t.rule, subject: t.subject, state, since: new Date(t.since).toISOString() };
    await this.o.out.dispatch({ title, text, alert }, to);
  }
}
