import { describe, expect, it } from 'vitest';
import { rulesWith } from '../../src/model/alert-rule.js';
import { checkRule, ruleBodyOf, ruleFieldOf, valuesOf } from '../../web/src/pages/alerts/ruleForm.js';

const view = (rule: 'sign_in_failures' | 'upstream_down') => ({
  rule,
  settings: rulesWith({})[rule] as Record<string, unknown>,
  changed: [],
  unavailable: null,
});

/** The rule editor on the Alerts page: what it shows, what it sends, the model's complaints per field. */
describe('web: the alert rule form', () => {
  it('shows the defaults and sends every field of the rule, numbers as numbers', () => {
    const v = valuesOf(view('sign_in_failures'));
    expect(v).toMatchObject({
      enabled: true,
      channels: 'all',
      hold_s: '0',
      repeat_s: '3600',
      count: '10',
      window_min: '5',
    });
    expect(ruleBodyOf('sign_in_failures', { ...v, channels: ' ops, mail ,', count: '3' })).toEqual({
      enabled: true,
      resolved: true,
      channels: ['ops', 'mail'],
      hold_s: 0,
      repeat_s: 3600,
      count: 3,
      window_min: 5,
    });
    // A rule without own fields sends only the common ones.
    expect(Object.keys(ruleBodyOf('upstream_down', valuesOf(view('upstream_down'))))).toEqual([
      'enabled',
      'resolved',
      'channels',
      'hold_s',
      'repeat_s',
    ]);
    expect(checkRule('sign_in_failures', v)).toBeUndefined();
  });

  it('names the field the schema refuses, before anything is sent', () => {
    const v = valuesOf(view('upstream_down'));
    expect(checkRule('upstream_down', { ...v, hold_s: 'soon' })).toHaveProperty('hold_s');
    expect(checkRule('upstream_down', { ...v, repeat_s: '5' })).toEqual({
      repeat_s: '0 (never) or 10 to 604800 seconds',
    });
    expect(checkRule('upstream_down', { ...v, channels: 'Ops!' })).toHaveProperty('channels');
    const s = valuesOf(view('sign_in_failures'));
    expect(checkRule('sign_in_failures', { ...s, count: '0' })).toHaveProperty('count');
    // The API's issues land on the same fields.
    expect(ruleFieldOf('channels.0')).toBe('channels');
    expect(ruleFieldOf('window_min')).toBe('window_min');
    expect(ruleFieldOf('elsewhere')).toBeUndefined();
  });
});
