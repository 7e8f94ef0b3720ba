import { useState } from 'react';
import type { AlertRuleList, AlertRuleView } from '../../../../src/api/views';
import type { AlertRuleName } from '../../../../src/model/alert-rule.js';
import { api } from '../../api';
import { plainButton, RefreshButton } from '../../components/buttons';
import { CheckboxField, Field } from '../../components/Field';
import { FormCard, FormFooter } from '../../components/Form';
import { LoadedList } from '../../components/LoadedList';
import { Notice, Outcome } from '../../components/Notice';
import { actionsColumn, Table } from '../../components/Table';
import { useCreateForm } from '../../hooks/useCreateForm';
import { useLoad } from '../../hooks/useLoad';
import { checkRule, OWN_FIELDS, RULE_LABELS, ruleBodyOf, ruleFieldOf, seconds, valuesOf } from './ruleForm';

/** What a rule does, in a line: its own settings, where it goes, when it repeats. */
function Summary({ r }: { r: AlertRuleView }) {
  const s = r.settings;
  const rule = r.rule as AlertRuleName;
  const own = (OWN_FIELDS[rule] ?? []).map((f) => `${f.label.toLowerCase()}: ${String(s[f.key])}`);
  return (
    <div className="text-xs text-slate-600">
      {own.length ? <div>{own.join(' · ')}</div> : null}
      <div>
        hold {seconds(s.hold_s)} · repeat {s.repeat_s ? `every ${seconds(s.repeat_s)}` : 'never'}
        {s.resolved === false ? ' · no resolved message' : ''} · to{' '}
        {Array.isArray(s.channels) ? s.channels.join(', ') : 'every channel'}
      </div>
      {r.unavailable ? <div className="text-amber-800">Unavailable: {r.unavailable}</div> : null}
    </div>
  );
}

/** One rule's editor: every field, checked with the model's schema before the PUT. */
function EditRule({ r, onSaved }: { r: AlertRuleView; onSaved: () => void }) {
  const rule = r.rule as AlertRuleName;
  const { values, setValues, field, errors, general, result, busy, submit } = useCreateForm({
    initial: valuesOf(r),
    fieldOf: ruleFieldOf,
    check: (v) => checkRule(rule, v),
    send: async (v) => {
      const saved = await api<AlertRuleView>('PUT', `/alert-rules/${rule}`, ruleBodyOf(rule, v));
      return `Saved ${RULE_LABELS[rule]}.${saved.changed.length ? '' : ' (all defaults)'}`;
    },
    after: (sent) => sent,
    onSent: onSaved,
  });
  const titleId = `rule-edit-${rule}`;
  return (
    <FormCard titleId={titleId} title={`Edit: ${RULE_LABELS[rule]}`} heading="h3" onSubmit={submit}>
      <div className="grid gap-3 md:grid-cols-2">
        <CheckboxField
          label="On"
          checked={values.enabled}
          onChange={(e) => setValues((v) => ({ ...v, enabled: e.target.checked }))}
        />
        <CheckboxField
          label="Send a message when it clears"
          checked={values.resolved}
          onChange={(e) => setValues((v) => ({ ...v, resolved: e.target.checked }))}
        />
        <Field {...field('hold_s')} label="Hold time (seconds)" inputMode="numeric" />
        <Field {...field('repeat_s')} label="Repeat every (seconds, 0: never)" inputMode="numeric" />
        <div className="md:col-span-2">
          <Field
            {...field('channels')}
            label='Channels ("all", or names separated by commas)'
            autoCapitalize="none"
            spellCheck={false}
          />
        </div>
        {OWN_FIELDS[rule].map((f) => (
          <Field key={f.key} {...field(f.key)} label={f.label} inputMode="decimal" />
        ))}
      </div>
      {errors.enabled ? <p className="text-sm text-red-700">{errors.enabled}</p> : null}
      <FormFooter error={general} busy={busy} label="Save rule" busyLabel="Saving…">
        {result ? <Notice kind="ok">{result}</Notice> : null}
      </FormFooter>
    </FormCard>
  );
}

/** Alert rules: each with its settings; Edit opens its form, Defaults puts every field back. */
export function AlertRules() {
  const [editing, setEditing] = useState('');
  const [done, setDone] = useState('');
  const { data, error, setError, load } = useLoad(() => api<AlertRuleList>('GET', '/alert-rules'));
  const reset = async (rule: string) => {
    try {
      setError('');
      await api('DELETE', `/alert-rules/${rule}`);
      setDone(`${RULE_LABELS[rule as AlertRuleName] ?? rule}: defaults back.`);
      setEditing('');
      await load();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  const current = data?.rules.find((r) => r.rule === editing);
  return (
    <section aria-labelledby="alert-rules-title" className="flex flex-col gap-3" data-testid="alert-rules">
      <div className="flex flex-wrap items-center gap-x-3 gap-y-2">
        <h2 id="alert-rules-title" className="font-semibold">
          Rules
        </h2>
        <RefreshButton onClick={() => void load()} />
      </div>
      <Outcome error={error} done={done} />
      {current ? (
        <EditRule
          key={current.rule}
          r={current}
          onSaved={() => {
            setDone('');
            void load();
          }}
        />
      ) : null}
      <LoadedList items={data?.rules} empty="No rules.">
        {(rules) => (
          <Table testId="alert-rule-list" columns={['Rule', 'On', 'Settings', actionsColumn]}>
            {rules.map((r) => (
              <tr key={r.rule} className="border-t border-slate-100 align-top" data-rule={r.rule}>
                <td className="px-3 py-1.5 font-medium">{RULE_LABELS[r.rule as AlertRuleName] ?? r.rule}</td>
                <td className="px-3 py-1.5">{r.settings.enabled === false ? 'off' : 'on'}</td>
                <td className="px-3 py-1.5">
                  <Summary r={r} />
                </td>
                <td className="px-3 py-1.5 text-right">
                  <div className="flex flex-wrap justify-end gap-3">
                    <button
                      type="button"
                      className={plainButton}
                      aria-expanded={editing === r.rule}
                      aria-label={`Edit rule ${RULE_LABELS[r.rule as AlertRuleName] ?? r.rule}`}
                      onClick={() => setEditing((e) => (e === r.rule ? '' : r.rule))}
                    >
                      {editing === r.rule ? 'Close' : 'Edit'}
                    </button>
                    {r.changed.length ? (
                      <button
                        type="button"
                        className={plainButton}
                        aria-label={`Put rule ${r.rule} back to its defaults`}
                        onClick={() => void reset(r.rule)}
                      >
                        Defaults
                      </button>
                    ) : null}
                  </div>
                </td>
              </tr>
            ))}
          </Table>
        )}
      </LoadedList>
    </section>
  );
}
