import { useEffect, useState } from 'react';
import { Field, SelectField } from '../components/Field';
import { useEditor, type JsonObject } from './draft';

/**
 * The service's WAF (docs/waf.md): off, blocking or detection only; the OWASP CRS paranoia level;
 * rule ids left out (a false positive's, from the security events).
 */
export function WafEditor({ draft }: { draft: JsonObject }) {
  const ed = useEditor();
  const waf = draft.waf && typeof draft.waf === 'object' && !Array.isArray(draft.waf) ? draft.waf : undefined;
  const excluded = Array.isArray(waf?.exclude_rules) ? waf.exclude_rules : [];
  // The text as typed ("942100, " while the next id is on its way); the draft holds the numbers.
  const [text, setText] = useState(excluded.join(', '));
  const joined = excluded.join(', ');
  useEffect(() => {
    // Changed elsewhere (the YAML view, a reload): show that. Only when the draft's list changes.
    if (ids(text).join(', ') !== joined) setText(joined);
  }, [joined]);
  return (
    <div className="grid gap-3 md:grid-cols-3">
      <SelectField
        label="WAF (ModSecurity, OWASP CRS)"
        value={waf ? String(waf.mode ?? 'block') : ''}
        onChange={(e) => ed.set('waf', e.target.value ? { ...(waf ?? {}), mode: e.target.value } : undefined)}
        error={ed.issues.at('waf') ?? ed.issues.at('waf.mode')}
        options={[
          { value: '', label: 'off' },
          { value: 'block', label: 'block attacks (403)' },
          { value: 'detect', label: 'detect only (log them)' },
        ]}
      />
      {waf ? (
        <>
          <SelectField
            label="WAF paranoia level"
            value={String(waf.paranoia ?? 1)}
            onChange={(e) => ed.set('waf.paranoia', Number(e.target.value))}
            error={ed.issues.at('waf.paranoia')}
            options={[
              { value: '1', label: '1: few false positives (default)' },
              { value: '2', label: '2' },
              { value: '3', label: '3' },
              { value: '4', label: '4: many rules, many false positives' },
            ]}
          />
          <Field
            label="WAF rules left out (ids)"
            name="waf.exclude_rules"
            placeholder="942100, 920350"
            value={text}
            onChange={(e) => {
              setText(e.target.value);
              const list = ids(e.target.value);
              ed.set('waf.exclude_rules', list.length ? list : undefined);
            }}
            error={ed.issues.at('waf.exclude_rules')}
          />
        </>
      ) : null}
    </div>
  );
}

/** The rule ids in what was typed (anything else is left out). */
function ids(text: string): number[] {
  return text
    .split(/[\s,]+/)
    .filter((x) => /^\d{1,8}$/.test(x))
    .map(Number);
}
