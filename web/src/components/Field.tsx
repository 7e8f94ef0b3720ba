import { useId, type ComponentProps, type ReactNode } from 'react';

interface Labelled {
  label: string;
  error?: string | undefined;
  /**
   * Beside the control, as tall as it (a row's Remove button): kept out of the label's row and
   * above the error, so it lines up with the control whatever the label or the error.
   */
  after?: ReactNode;
}

/**
 * What every form control shares: a label tied to it, and its error announced to screen readers
 * and tied to it with aria-describedby. `control` gets the id, the aria attributes and the style.
 */
function FieldShell({
  label,
  error,
  after,
  control,
}: Labelled & {
  control: (attrs: {
    id: string;
    'aria-invalid': true | undefined;
    'aria-describedby': string | undefined;
    className: string;
  }) => ReactNode;
}) {
  const id = useId();
  const shown = control({
    id,
    'aria-invalid': error ? true : undefined,
    'aria-describedby': error ? `${id}-error` : undefined,
    className:
      'min-w-0 rounded border bg-white px-3 py-2 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500 ' +
      (after ? 'flex-1 ' : '') +
      (error ? 'border-red-500' : 'border-slate-300'),
  });
  return (
    <div className="flex flex-col gap-1">
      <label htmlFor={id} className="text-sm font-medium text-slate-700">
        {label}
      </label>
      {after ? (
        <div className="flex items-stretch gap-2">
          {shown}
          {after}
        </div>
      ) : (
        shown
      )}
      {error ? (
        <p id={`${id}-error`} className="text-sm text-red-700" role="alert">
          {error}
        </p>
      ) : null}
    </div>
  );
}

/** A labelled input. React 19 passes `ref` as a plain prop, so it reaches the input through the spread. */
export function Field(props: ComponentProps<'input'> & Labelled) {
  const { label, error, after, className, ...input } = props;
  return (
    <FieldShell
      label={label}
      error={error}
      after={after}
      control={(a) => <input {...a} className={`${a.className} text-base ${className ?? ''}`} {...input} />}
    />
  );
}

/** A labelled textarea (PEM, YAML, lists of lines). */
export function TextAreaField(props: ComponentProps<'textarea'> & Labelled) {
  const { label, error, className, ...area } = props;
  return (
    <FieldShell
      label={label}
      error={error}
      control={(a) => <textarea {...a} className={`${a.className} ${className ?? 'text-base'}`} {...area} />}
    />
  );
}

/** A labelled select. */
export function SelectField(
  props: ComponentProps<'select'> &
    Labelled & { options: readonly (string | { value: string; label: string })[] },
) {
  const { label, error, options, className, ...select } = props;
  return (
    <FieldShell
      label={label}
      error={error}
      control={(a) => (
        <select {...a} className={`${a.className} w-full text-base ${className ?? ''}`} {...select}>
          {options.map((o) => {
            const { value, label: text } = typeof o === 'string' ? { value: o, label: o } : o;
            return (
              <option key={value} value={value}>
                {text}
              </option>
            );
          })}
        </select>
      )}
    />
  );
}

/** A checkbox with its label to the right, the whole line clickable. */
export function CheckboxField(props: Omit<ComponentProps<'input'>, 'type'> & { label: string }) {
  const { label, ...input } = props;
  const id = useId();
  return (
    <div className="flex items-center gap-2">
      <input
        id={id}
        type="checkbox"
        className="h-4 w-4 rounded border-slate-300 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500"
        {...input}
      />
      <label htmlFor={id} className="text-sm text-slate-700">
        {label}
      </label>
    </div>
  );
}
