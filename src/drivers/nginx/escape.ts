/**
 * Quoting for values that reach an nginx config file. Values are validated by the model's schemas
 * before they get here; these functions check again and refuse anything that could end a string,
 * start a new directive or (where nginx would expand it) name a variable.
 */

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\x00-\x1f\x7f]/;

export class UnsafeValueError extends Error {}

/** A quoted literal in a directive that nginx does not expand variables in (server_name, location). */
export function lit(value: string): string {
  if (CONTROL.test(value) || /[$"\\{};]/.test(value))
    throw new UnsafeValueError(`unsafe nginx literal: ${JSON.stringify(value)}`);
  return `"${value}"`;
}

/** Words a `map` block reads as its own keywords, even when quoted. */
const MAP_KEYWORDS = new Set(['default', 'hostnames', 'include', 'volatile']);

/**
 * A key in a `map` block. A keyword (a host may be called `include`) gets a leading backslash,
 * which nginx strips. Only keywords: nginx reads `\r`, `\n` and `\t` as control characters.
 */
export function mapKey(value: string): string {
  const quoted = lit(value);
  return MAP_KEYWORDS.has(value) ? `"\\${quoted.slice(1)}` : quoted;
}

/**
 * A quoted string in a directive whose value nginx expands (proxy_set_header, add_header, return).
 * A "$" is written as `${gh_dollar}`, a variable whose value is a literal dollar sign, because
 * nginx has no escape for it.
 */
export function str(value: string): string {
  if (CONTROL.test(value)) throw new UnsafeValueError(`unsafe nginx string: ${JSON.stringify(value)}`);
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\$/g, '${gh_dollar}')}"`;
}

/** An identifier we generate ourselves (upstream names, variable names): checked, not quoted. */
export function ident(value: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(value))
    throw new UnsafeValueError(`unsafe nginx identifier: ${JSON.stringify(value)}`);
  return value;
}

/** An `IP:port` (IPv6 in brackets) we parsed ourselves. */
export function address(value: string): string {
  if (!/^(?:[0-9.]+|\[[0-9a-fA-F:.]+\]):[0-9]{1,5}$/.test(value))
    throw new UnsafeValueError(`unsafe address: ${JSON.stringify(value)}`);
  return value;
}

/** An absolute file path of our own data directory. */
export function filePath(value: string): string {
  if (CONTROL.test(value) || /[$"\\{};\s]/.test(value))
    throw new UnsafeValueError(`unsafe path: ${JSON.stringify(value)}`);
  return value;
}

/** Header name → the suffix nginx uses in `$upstream_http_<name>` / `$http_<name>`. */
export function headerVar(name: string): string {
  return ident(name.toLowerCase().replace(/-/g, '_'));
}
