import type { AlertChannelView } from '../../../../src/api/views';
import { api } from '../../api';
import { CheckboxField, Field, SelectField, TextAreaField } from '../../components/Field';
import { FormCard, FormFooter } from '../../components/Form';
import { Notice } from '../../components/Notice';
import { useCreateForm } from '../../hooks/useCreateForm';
import {
  ALERT_TYPE_FIELDS,
  ALERT_TYPE_LABELS,
  ALERT_TYPES,
  channelBodyOf,
  channelFieldOf,
  checkChannel,
  EMPTY_CHANNEL,
  type AlertType,
  type ChannelFieldSpec,
} from './channelForm';

/**
 * The "Add channel" form: the chosen type's fields (secrets as password inputs), checked with the
 * model's schema before it is sent, the API's 400s shown on the field they name.
 */
export function AddChannel({ onAdded }: { onAdded: () => void }) {
  const { values, setValues, field, errors, general, result, busy, submit } = useCreateForm({
    initial: EMPTY_CHANNEL,
    fieldOf: channelFieldOf,
    check: checkChannel,
    send: async (v): Promise<string> => {
      const built = channelBodyOf(v);
      if (!built.ok) throw new Error(built.message);
      const r = await api<AlertChannelView>('POST', '/alert-channels', built.body);
      return `Added ${r.name} (${r.type}). Send it a test from the list.`;
    },
    // The secrets leave the page once stored: every field empties, the type stays.
    after: (sent) => ({ ...EMPTY_CHANNEL, type: sent.type }),
    onSent: onAdded,
  });

  const input = (f: ChannelFieldSpec) => {
    const common = { ...field(f.key), label: f.label, placeholder: f.placeholder, required: f.required };
    if (f.lines)
      return (
        <TextAreaField
          {...common}
          rows={2}
          autoCapitalize="none"
          spellCheck={false}
          autoComplete="off"
          className="font-mono text-sm"
        />
      );
    return (
      <Field
        {...common}
        type={f.secret ? 'password' : 'text'}
        autoComplete={f.secret ? 'new-password' : 'off'}
        autoCapitalize="none"
        spellCheck={false}
      />
    );
  };

  return (
    <FormCard titleId="alert-add-title" title="Add channel" heading="h3" onSubmit={submit}>
      <p className="text-sm text-slate-600">
        Where Gatehouse sends its alerts. Secrets (webhook URLs, tokens, passwords) are sealed and never shown
        again.
      </p>
      <div className="grid gap-3 md:grid-cols-2">
        <SelectField
          {...field('type')}
          onChange={(e) => setValues((v) => ({ ...v, type: e.target.value as AlertType }))}
          label="Type"
          options={ALERT_TYPES.map((t) => ({ value: t, label: ALERT_TYPE_LABELS[t] }))}
        />
        <Field {...field('name')} label="Name" placeholder="ops" required autoCapitalize="none" />
        {ALERT_TYPE_FIELDS[values.type].map((f) => (
          <div key={`${values.type}-${f.key}`} className={f.wide ? 'md:col-span-2' : undefined}>
            {input(f)}
          </div>
        ))}
        {values.type === 'email' ? (
          <div className="md:col-span-2">
            <CheckboxField
              label="STARTTLS (a password is only sent over it)"
              checked={values.starttls}
              onChange={(e) => setValues((v) => ({ ...v, starttls: e.target.checked }))}
            />
            {errors.starttls ? <p className="text-sm text-red-700">{errors.starttls}</p> : null}
          </div>
        ) : null}
      </div>
      <FormFooter error={general} busy={busy} label="Add channel" busyLabel="Adding…">
        {result ? <Notice kind="ok">{result}</Notice> : null}
      </FormFooter>
    </FormCard>
  );
}
