import { z, type ZodError } from 'zod';

/** One problem with one field of an input, e.g. `routes.0.upstreams.1: not an IP:port`. */
export interface FieldIssue {
  field: string;
  message: string;
}

/**
 * Every error Gatehouse reports on purpose: a stable machine code, a sentence for humans, the HTTP
 * status the API answers with, and the fields at fault when the input was bad.
 */
export class GatehouseError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    readonly issues: FieldIssue[] = [],
  ) {
    super(message);
    this.name = 'GatehouseError';
  }

  toJSON(): { error: { code: string; message: string; issues?: FieldIssue[] } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.issues.length ? { issues: this.issues } : {}),
      },
    };
  }
}

export function invalid(field: string, message: string): GatehouseError {
  return new GatehouseError('invalid', `${field}: ${message}`, 400, [{ field, message }]);
}

export function conflict(field: string, message: string): GatehouseError {
  return new GatehouseError('conflict', `${field}: ${message}`, 409, [{ field, message }]);
}

export function notFound(what: string): GatehouseError {
  return new GatehouseError('not_found', `${what} not found`, 404);
}

/** Edit distance (insertions, deletions, substitutions) between two short strings. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/** The known key closest to `key`, if close enough to be a slip (a typo, a missing plural "s"). */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: { k: string; d: number } | undefined;
  for (const k of known) {
    const d = editDistance(lower, k.toLowerCase());
    if (!best || d < best.d) best = { k, d };
  }
  return best && best.d <= Math.max(1, Math.floor(key.length / 3)) ? best.k : undefined;
}

/** "unknown field "upstream" (did you mean "upstreams"?)", for each key an object does not know. */
function unknownKeys(keys: readonly string[], known: readonly string[]): string {
  return keys
    .map((k) => {
      const near = closestKey(k, known);
      return `unknown field "${k}"${near ? ` (did you mean "${near}"?)` : ''}`;
    })
    .join(', ');
}

// zod's own words for an unknown key name it but not what was meant: every strict object of every
// schema (API, files, labels, UI) says which known key is closest. The schema that refused the key
// is at hand only here, while zod builds the issue.
z.config({
  customError: (iss) => {
    // "Invalid input: expected array, received undefined" says less than this.
    if (iss.code === 'invalid_type' && iss.input === undefined) return 'required';
    if (iss.code !== 'unrecognized_keys') return undefined;
    const shape = (iss.inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod
      ?.def?.shape;
    return unknownKeys(iss.keys, Object.keys(shape ?? {}));
  },
});

/** Turns a zod failure into field issues: the path joined with dots, `prefix` before it. */
export function fromZod(err: ZodError, prefix = ''): GatehouseError {
  // An unknown key first: it is usually the cause of the rest (`upstream` for `upstreams`).
  const ordered = [
    ...err.issues.filter((i) => i.code === 'unrecognized_keys'),
    ...err.issues.filter((i) => i.code !== 'unrecognized_keys'),
  ];
  const issues = ordered.map((i) => {
    // One unknown key is the field at fault itself, e.g. routes.0.upstream.
    const own = i.code === 'unrecognized_keys' && i.keys.length === 1 ? i.keys : [];
    const path = [prefix, ...i.path.map(String), ...own].filter((p) => p !== '').join('.');
    return { field: path || '(root)', message: i.message };
  });
  const first = issues[0] ?? { field: '(root)', message: 'invalid input' };
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return new GatehouseError('invalid', `${first.field}: ${first.message}${more}`, 400, issues);
}

/** Why a file a person named could not be read, in words ("no such file: PATH"), not a system code. */
export function unreadableFile(path: string, err: unknown): { code: string; why: string } {
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOENT'
      ? `no such file: ${path}`
      : code === 'EISDIR'
        ? `a directory, not a file: ${path}`
        : code === 'EACCES' || code === 'EPERM'
          ? `permission denied: ${path}`
          : `cannot read ${path}: ${(err as Error).message}`;
  return { code: code === 'ENOENT' ? 'no_such_file' : 'unreadable_file', why };
}
