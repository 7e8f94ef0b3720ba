import { useState, type FormEvent } from 'react';
import { messageOf, splitIssues } from '../api';

/** The keys of a form's values that hold text (what an input's change sets). */
type TextKeys<V> = { [K in keyof V]: V[K] extends string ? K : never }[keyof V];

/**
 * A form that sends its values to the API: what was typed, the API's complaints per field (`fieldOf`
 * names the field an issue is about; without it the API's message is shown as it is), the rest as
 * one general message, busy while sending, and what `send` returned (`result`: the "Created …"
 * line, or what the API answered) until the next send. `check` refuses values before anything is sent; after a send the
 * values become `after(values)` (by default `initial`) and `onSent` lets the page read again.
 */
export function useCreateForm<V extends object, F extends string = never, R = string>(opts: {
  initial: V;
  fieldOf?: (field: string) => F | undefined;
  check?: (values: V) => Partial<Record<F, string>> | undefined;
  send: (values: V) => Promise<R>;
  after?: (sent: V) => V;
  onSent?: (result: R) => void;
}) {
  const [values, setValues] = useState(opts.initial);
  const [errors, setErrors] = useState<Partial<Record<F, string>>>({});
  const [general, setGeneral] = useState('');
  const [result, setResult] = useState<R | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (k: TextKeys<V>) => (e: { target: { value: string } }) =>
    setValues((v) => ({ ...v, [k]: e.target.value }));
  /** What ties a text field to the form: its name, value, change and the API's complaint about it. */
  const field = (k: TextKeys<V> & string) => ({
    name: k,
    value: values[k] as string,
    onChange: set(k),
    error: errors[k as string as F],
  });

  async function submit(e: FormEvent) {
    e.preventDefault();
    setErrors({});
    setGeneral('');
    setResult(null);
    const refused = opts.check?.(values);
    if (refused) {
      setErrors(refused);
      return;
    }
    setBusy(true);
    try {
      const answer = await opts.send(values);
      setResult(() => answer);
      setValues((v) => (opts.after ? opts.after(v) : opts.initial));
      opts.onSent?.(answer);
    } catch (err) {
      if (opts.fieldOf) {
        const split = splitIssues(err, opts.fieldOf);
        setErrors(split.fields);
        setGeneral(split.general);
      } else setGeneral(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  return {
    values,
    setValues,
    set,
    field,
    errors,
    general,
    result,
    setResult,
    busy,
    submit: (e: FormEvent) => void submit(e),
  };
}
