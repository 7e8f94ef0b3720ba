import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AlertChannels } from '../alerts/channels.js';
import type { AlertService } from '../alerts/service.js';
import type { AlertStore } from '../alerts/store.js';
import { ALERT_RULE_NAMES, type AlertRuleName } from '../model/alert-rule.js';
import { parse } from './http-errors.js';
import type { AlertList, AlertRuleList, AlertRuleView } from './views/index.js';

const params = z.strictObject({
  rule: z.enum(ALERT_RULE_NAMES as [AlertRuleName, ...AlertRuleName[]], {
    error: `one of ${ALERT_RULE_NAMES.join(', ')}`,
  }),
});

/**
 * Alert rules under /api/v1/alert-rules and the alerts under /api/v1/alerts (docs/alerts.md). Any
 * replica answers: the rules and the leader's alerts are in the store.
 */
export async function alertRuleRoutes(
  app: FastifyInstance,
  channels: AlertChannels,
  store: AlertStore,
  service: AlertService | undefined,
): Promise<void> {
  const unavailable = (rule: AlertRuleName): string | null =>
    rule === 'error_rate' && !service?.hasErrorRates
      ? 'needs per-service request counts (the traffic metrics), which this Gatehouse does not have'
      : null;
  const view = async (rule: AlertRuleName): Promise<AlertRuleView> => {
    const [rules, overrides] = await Promise.all([store.rules(), store.overrides()]);
    return {
      rule,
      settings: rules[rule],
      changed: Object.keys(overrides[rule] ?? {}),
      unavailable: unavailable(rule),
    };
  };
  const channelNames = async () => (await channels.list()).map((c) => c.name);

  app.get('/alerts', async () => {
    const s = await store.state();
    return {
      alerts: s.alerts.filter((a) => a.state === 'firing'),
      pending: s.alerts.filter((a) => a.state === 'pending'),
      updated_at: s.at,
    } satisfies AlertList;
  });
  app.get('/alert-rules', async () => {
    const rules: AlertRuleView[] = [];
    for (const rule of ALERT_RULE_NAMES) rules.push(await view(rule));
    return { rules } satisfies AlertRuleList;
  });
  app.get('/alert-rules/:rule', async (req) => view(parse(params, req.params, 'params').rule));
  app.put('/alert-rules/:rule', async (req) => {
    const { rule } = parse(params, req.params, 'params');
    await store.update(rule, req.body, channelNames);
    service?.rulesChanged();
    return view(rule);
  });
  app.delete('/alert-rules/:rule', async (req) => {
    const { rule } = parse(params, req.params, 'params');
    await store.reset(rule);
    service?.rulesChanged();
    return view(rule);
  });
}
