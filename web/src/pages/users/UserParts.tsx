import { useId } from 'react';
import { CheckboxField } from '../../components/Field';

/** The groups a user is in, as one checkbox per group, with the API's error for the list. */
export function GroupPicker({
  groups,
  value,
  onChange,
  error,
  disabled,
}: {
  groups: string[];
  value: string[];
  onChange: (groups: string[]) => void;
  error?: string | undefined;
  disabled?: boolean;
}) {
  const id = useId();
  const toggle = (g: string, on: boolean) =>
    onChange(on ? [...value, g].filter((x, i, a) => a.indexOf(x) === i) : value.filter((x) => x !== g));
  return (
    <fieldset
      className="flex min-w-0 flex-col gap-1"
      aria-describedby={error ? `${id}-error` : undefined}
      disabled={disabled}
    >
      <legend className="mb-1 text-sm font-medium text-slate-700">Groups</legend>
      {groups.length === 0 ? (
        <p className="text-sm text-slate-500">No groups yet (create them under Groups).</p>
      ) : (
        <div className="flex flex-wrap gap-x-4 gap-y-1">
          {groups.map((g) => (
            <CheckboxField
              key={g}
              label={g}
              checked={value.includes(g)}
              aria-invalid={error ? true : undefined}
              onChange={(e) => toggle(g, e.target.checked)}
            />
          ))}
        </div>
      )}
      {error ? (
        <p id={`${id}-error`} className="text-sm text-red-700" role="alert">
          {error}
        </p>
      ) : null}
    </fieldset>
  );
}
