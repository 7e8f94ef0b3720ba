import type { ZodError } from 'zod';

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

/** Turns a zod failure into field issues: the path joined with dots, `prefix` before it. */
export function fromZod(err: ZodError, prefix = ''): GatehouseError {
  const issues = err.issues.map((i) => {
    const path = [prefix, ...i.path.map(String)].filter((p) => p !== '').join('.');
    return { field: path || '(root)', message: i.message };
  });
  const first = issues[0] ?? { field: '(root)', message: 'invalid input' };
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return new GatehouseError('invalid', `${first.field}: ${first.message}${more}`, 400, issues);
}
