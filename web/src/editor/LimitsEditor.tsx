import { CheckboxField, Field } from '../components/Field';
import { ErrorLine } from '../components/Notice';
import { asString, useEditor } from './draft';
import { TextAt } from './parts';

/**
 * Connection and bandwidth limits (the model's limitsSchema), on when the key is present: the
 * service's, counted across its routes, or a route's own in their place.
 */
export function LimitsEditor({ path, label, prefix }: { path: string; label: string; prefix: string }) {
  const ed = useEditor();
  const on = ed.get(path) !== undefined;
  const count = (key: string, text: string) => (
    <Field
      label={`${prefix}${text}`}
      name={`${path}.${key}`}
      type="number"
      min={1}
      value={asString(ed.get(`${path}.${key}`))}
      onChange={(e) => ed.set(`${path}.${key}`, e.target.value === '' ? undefined : Number(e.target.value))}
      error={ed.issues.under(`${path}.${key}`)}
    />
  );
  return (
    <div className="flex flex-col gap-2">
      <CheckboxField
        label={label}
        checked={on}
        onChange={(e) => ed.set(path, e.target.checked ? { connections_per_client: 10 } : undefined)}
      />
      {on ? (
        <div className="flex flex-col gap-2 border-l-2 border-slate-100 pl-3">
          <ErrorLine error={ed.issues.at(path)} />
          <div className="grid gap-3 md:grid-cols-3">
            {count('connections_per_client', 'requests at once per client')}
            {count('connections', 'requests at once in all')}
            <TextAt
              path={`${path}.bandwidth`}
              label={`${prefix}bandwidth per connection`}
              placeholder="512k"
            />
          </div>
        </div>
      ) : null}
    </div>
  );
}
