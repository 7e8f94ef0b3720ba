import { z } from 'zod';
import { invalid } from '../model/errors.js';
import {
  ALERT_RULE_NAMES,
  alertRulePatchSchema,
  alertRulesSchema,
  rulesWith,
  type AlertRuleName,
  type AlertRuleOverrides,
  type AlertRules,
  type AlertView,
  type ChannelDelivery,
} from '../model/alert-rule.js';
import type { Db } from '../store/db.js';
import { fromZod } from '../model/errors.js';

/** The rules' changed fields, in `meta` (every replica reads them; backed up with the store). */
const RULES_KEY = 'alert-rules';
/** The leader's alerts and channels' delivery status, for every replica's GET /alerts. */
const STATE_KEY = 'alert-state';

export interface AlertState {
  alerts: AlertView[];
  channels: Record<string, ChannelDelivery>;
  /** When the leader last stored it. */
  at: string | null;
}

const stateSchema = z.object({
  alerts: z.array(z.custom<AlertView>((v) => typeof v === 'object' && v !== null)),
  channels: z.record(
    z.string(),
    z.custom<ChannelDelivery>((v) => typeof v === 'object' && v !== null),
  ),
  at: z.string().nullable(),
});

/** Alert rules (their overrides) and the alerts' state, in the store's `meta` table. */
export class AlertStore {
  constructor(private readonly db: Db) {}

  async overrides(): Promise<AlertRuleOverrides> {
    const v = await this.get(RULES_KEY);
    if (!v) return {};
    try {
      const o = JSON.parse(v) as AlertRuleOverrides;
      // A field an older or newer binary does not know is dropped rather than breaking every rule.
      const out: AlertRuleOverrides = {};
      for (const name of ALERT_RULE_NAMES) {
        const r = alertRulePatchSchema(name).safeParse(o[name] ?? {});
        const kept = r.success ? pick(r.data, Object.keys(o[name] ?? {})) : {};
        if (Object.keys(kept).length) out[name] = kept;
      }
      return out;
    } catch {
      return {};
    }
  }

  async rules(): Promise<AlertRules> {
    return rulesWith(await this.overrides());
  }

  /**
   * Changes the fields of one rule given in `patch` (validated as a whole with the others'
   * values); `null` for a field puts its default back. Returns the rule as it is now.
   */
  async update(
    name: AlertRuleName,
    patch: unknown,
    channels: () => Promise<string[]>,
  ): Promise<AlertRules[AlertRuleName]> {
    if (!patch || typeof patch !== 'object' || Array.isArray(patch))
      throw invalid('', "a JSON object of the rule's fields");
    const body = patch as Record<string, unknown>;
    const sets = Object.fromEntries(Object.entries(body).filter(([, v]) => v !== null));
    const resets = Object.keys(body).filter((k) => body[k] === null);
    const shape = alertRulesSchema.shape[name].shape as Record<string, unknown>;
    for (const k of resets) if (!(k in shape)) throw invalid(k, `${name} has no field ${k}`);
    const parsed = alertRulePatchSchema(name).safeParse(sets);
    if (!parsed.success) throw fromZod(parsed.error, '');
    const changed = pick(parsed.data, Object.keys(sets));
    if (Array.isArray(changed.channels)) {
      const known = await channels();
      const missing = (changed.channels as string[]).filter((c) => !known.includes(c));
      if (missing.length)
        throw invalid('channels', `no alert channel ${missing.join(', ')} (see GET /alert-channels)`);
    }
    const all = await this.overrides();
    const merged: Record<string, unknown> = { ...(all[name] ?? {}), ...changed };
    for (const k of resets) delete merged[k];
    const next = { ...all, [name]: merged };
    const whole = alertRulesSchema.safeParse(
      Object.fromEntries(ALERT_RULE_NAMES.map((n) => [n, next[n] ?? {}])),
    );
    if (!whole.success) throw fromZod(whole.error, '');
    await this.put(RULES_KEY, JSON.stringify(next));
    return whole.data[name];
  }

  /** Puts every field of one rule back to its default. */
  async reset(name: AlertRuleName): Promise<AlertRules[AlertRuleName]> {
    const all = await this.overrides();
    delete all[name];
    await this.put(RULES_KEY, JSON.stringify(all));
    return rulesWith(all)[name];
  }

  async state(): Promise<AlertState> {
    const v = await this.get(STATE_KEY);
    if (v) {
      try {
        const r = stateSchema.safeParse(JSON.parse(v));
        if (r.success) return r.data;
      } catch {
        // An unreadable state reads as none.
      }
    }
    return { alerts: [], channels: {}, at: null };
  }

  async saveState(s: Omit<AlertState, 'at'>): Promise<void> {
    await this.put(STATE_KEY, JSON.stringify({ ...s, at: new Date().toISOString() }));
  }

  private async get(key: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirst();
    return row?.value;
  }

  private async put(key: string, value: string): Promise<void> {
    await this.db
      .insertInto('meta')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
      .execute();
  }
}

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
}
