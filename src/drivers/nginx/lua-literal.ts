import { UnsafeValueError } from './escape.js';

/**
 * Data as Lua source (a table constructor), for files Lua loads with `dofile`. Every string is a
 * quoted literal whose bytes other than letters, digits and `_.:/@-` and spaces are written as
 * decimal escapes (`\123`), so no value can end the string or add code, whatever it holds. Numbers
 * must be finite; only plain objects, arrays, strings, numbers and booleans are accepted.
 */
export function luaValue(value: unknown): string {
  if (typeof value === 'string') return luaString(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new UnsafeValueError(`not a finite number: ${value}`);
    return String(value);
  }
  if (Array.isArray(value)) return value.length ? `{ ${value.map(luaValue).join(', ')} }` : '{}';
  if (value !== null && typeof value === 'object') {
    const fields = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `[${luaString(k)}] = ${luaValue(v)}`);
    return fields.length ? `{ ${fields.join(', ')} }` : '{}';
  }
  throw new UnsafeValueError(`no Lua literal for ${String(value)}`);
}

function luaString(s: string): string {
  let out = '"';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_.:/@ -]/.test(c) ? c : `\\${byte.toString().padStart(3, '0')}`;
  }
  return `${out}"`;
}
