import { useId, type ComponentProps } from 'react';

/**
 * A labelled input with its error announced to screen readers and tied to the field. React 19
 * passes `ref` as a plain prop, so it reaches the input through the spread.
 */
export function Field(props: ComponentProps<'input'> & { label: string; error?: string | undefined }) {
  const { label, error, ...input } = props;
  const id = useId();
  return (
    <div className="flex flex-col gap-1">
      <label htmlFor={id} className="text-sm font-medium text-slate-700">
        {label}
      </label>
      <input
        id={id}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
        className={
          'rounded border bg-white px-3 py-2 text-base focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500 ' +
          (error ? 'border-red-500' : 'border-slate-300')
        }
        {...input}
      />
      {error ? (
        <p id={`${id}-error`} className="text-sm text-red-700" role="alert">
          {error}
        </p>
      ) : null}
    </div>
  );
}

export const buttonClass =
  'rounded bg-slate-900 px-4 py-2 text-sm font-medium text-white hover:bg-slate-700 disabled:opacity-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500 focus-visible:ring-offset-2';
