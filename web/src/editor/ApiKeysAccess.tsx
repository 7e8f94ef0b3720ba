import { CheckboxField, Field } from '../components/Field';
import { asObject, asString, useEditor } from './draft';

/**
 * `access.api_keys`: API keys (the API keys page) pass, read from `Authorization: Bearer` (`true`)
 * or, when a header is named, from that header alone (`{ header }`). Emptying the header goes back
 * to `true`.
 */
export function ApiKeysAccess({ path }: { path: string }) {
  const ed = useEditor();
  const value = ed.get(path);
  const on = value !== undefined && value !== false;
  const header = asString(asObject(value).header);
  return (
    <div className="flex flex-col gap-2">
      <CheckboxField
        label="API keys may pass (Authorization: Bearer)"
        checked={on}
        onChange={(e) => ed.set(path, e.target.checked ? true : undefined)}
      />
      {on ? (
        <div className="ml-6 flex flex-col gap-3 border-l-2 border-slate-100 pl-3">
          <div className="md:max-w-sm">
            <Field
              label="Header (instead of Authorization: Bearer)"
              name={`${path}.header`}
              placeholder="X-Api-Key"
              autoComplete="off"
              spellCheck={false}
              value={header}
              onChange={(e) => ed.set(path, e.target.value === '' ? true : { header: e.target.value })}
              error={ed.issues.at(`${path}.header`) ?? ed.issues.at(path)}
            />
          </div>
        </div>
      ) : null}
    </div>
  );
}
