import { useEffect, useId, useState, type ReactNode } from 'react';
import { plainButton } from '../components/buttons';
import { Field } from '../components/Field';
import { ErrorLine } from '../components/Notice';
import { asList, asObject, asString, useEditor, type JsonObject } from './draft';

/** A group of fields with a heading; `error` is what the API said of the group as a whole. */
export function Section({
  title,
  error,
  children,
  actions,
}: {
  title: string;
  error?: string | undefined;
  children: ReactNode;
  actions?: ReactNode;
}) {
  return (
    <fieldset className="flex min-w-0 flex-col gap-3 rounded-lg border border-slate-200 bg-white p-4">
      <legend className="px-1 font-semibold">{title}</legend>
      {actions ? <div className="-mt-2 flex flex-wrap justify-end gap-2">{actions}</div> : null}
      <ErrorLine error={error} />
      {children}
    </fieldset>
  );
}

/** A text field bound to a path; emptying it removes the key (optional fields stay absent). */
export function TextAt({
  path,
  label,
  placeholder,
  required,
  after,
}: {
  path: string;
  label: string;
  placeholder?: string;
  required?: boolean;
  /** Beside the input, as tall as it (a Remove button). */
  after?: ReactNode;
}) {
  const ed = useEditor();
  return (
    <Field
      label={label}
      name={path}
      placeholder={placeholder}
      after={after}
      value={asString(ed.get(path))}
      onChange={(e) => ed.set(path, e.target.value === '' && !required ? undefined : e.target.value)}
      error={ed.issues.under(path)}
    />
  );
}

/** One input per item, each with its own error and a remove button; an add button below. */
export function Rows({
  path,
  label,
  itemLabel,
  placeholder,
  addLabel,
}: {
  path: string;
  label: string;
  itemLabel: string;
  placeholder?: string;
  addLabel: string;
}) {
  const ed = useEditor();
  const items = asList(ed.get(path));
  const headingId = useId();
  return (
    <div role="group" aria-labelledby={headingId} className="flex flex-col gap-2">
      <span id={headingId} className="text-sm font-medium text-slate-700">
        {label}
      </span>
      <ErrorLine error={ed.issues.at(path)} />
      {items.map((v, i) => (
        <Field
          key={i}
          label={`${itemLabel} ${i + 1}`}
          name={`${path}.${i}`}
          placeholder={placeholder}
          value={v}
          onChange={(e) => ed.set(`${path}.${i}`, e.target.value)}
          error={ed.issues.under(`${path}.${i}`)}
          after={
            <button
              type="button"
              className={plainButton}
              aria-label={`Remove ${itemLabel.toLowerCase()} ${i + 1}`}
              onClick={() => ed.set(`${path}.${i}`, undefined)}
            >
              Remove
            </button>
          }
        />
      ))}
      <div>
        <button type="button" className={plainButton} onClick={() => ed.set(`${path}.${items.length}`, '')}>
          {addLabel}
        </button>
      </div>
    </div>
  );
}

function splitList(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * A short list typed as text, separated by commas or spaces (groups, CIDRs, methods). The text is
 * kept as typed, so a trailing comma survives until the next item is typed.
 */
export function ListText({
  path,
  label,
  placeholder,
  hint,
  numbers,
}: {
  path: string;
  label: string;
  placeholder?: string;
  hint?: string;
  /** Items that are whole numbers are stored as numbers (autonomous system numbers). */
  numbers?: boolean;
}) {
  const ed = useEditor();
  const value = asList(ed.get(path)).map(String);
  const joined = value.join(',');
  const [text, setText] = useState(value.join(', '));
  // Only a change from outside (YAML, a reload) resets the text.
  useEffect(() => {
    setText((cur) => (splitList(cur).join(',') === joined ? cur : joined.split(',').join(', ')));
  }, [joined]);
  return (
    <Field
      label={label}
      name={path}
      placeholder={placeholder ?? hint}
      value={text}
      onChange={(e) => {
        setText(e.target.value);
        const items = splitList(e.target.value);
        const stored = numbers ? items.map((x) => (/^[0-9]{1,10}$/.test(x) ? Number(x) : x)) : items;
        ed.set(path, stored.length ? stored : undefined);
      }}
      error={ed.issues.under(path)}
    />
  );
}

/** Header name → value pairs (`headers.request.set`), edited as rows. */
export function HeaderRows({ path, label }: { path: string; label: string }) {
  const ed = useEditor();
  const entries = Object.entries(asObject(ed.get(path))).map(([k, v]) => [k, asString(v)] as const);
  const write = (next: (readonly [string, string])[]) => {
    const obj: JsonObject = {};
    for (const [k, v] of next) obj[k] = v;
    ed.set(path, next.length ? obj : undefined);
  };
  const headingId = useId();
  return (
    <div role="group" aria-labelledby={headingId} className="flex flex-col gap-2">
      <span id={headingId} className="text-sm font-medium text-slate-700">
        {label}
      </span>
      <ErrorLine error={ed.issues.under(path)} />
      {entries.map(([k, v], i) => (
        <div key={i} className="grid grid-cols-1 items-start gap-2 sm:grid-cols-2">
          <Field
            label={`${label}: name ${i + 1}`}
            value={k}
            onChange={(e) => write(entries.map((x, j) => (j === i ? [e.target.value, x[1]] : x)))}
          />
          <Field
            label={`${label}: value ${i + 1}`}
            value={v}
            onChange={(e) => write(entries.map((x, j) => (j === i ? [x[0], e.target.value] : x)))}
            after={
              <button
                type="button"
                className={plainButton}
                aria-label={`Remove ${label.toLowerCase()} ${i + 1}`}
                onClick={() => write(entries.filter((_, j) => j !== i))}
              >
                Remove
              </button>
            }
          />
        </div>
      ))}
      <div>
        <button
          type="button"
          className={plainButton}
          // A new row needs a key of its own: an empty name would collide with the next new row.
          onClick={() => write([...entries, [`X-Header-${entries.length + 1}`, '']])}
        >
          Add header
        </button>
      </div>
    </div>
  );
}
