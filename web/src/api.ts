import type { ErrorBody } from '../../src/api/views';

/** The management API's error shape: `{"error":{"code","message","issues"?}}`. */
type ApiErrorBody = ErrorBody['error'];

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(body.message);
  }
}

/** Called when any request answers 401: the session ended (expired, revoked, signed out elsewhere). */
let onUnauthorized: () => void = () => undefined;
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

/**
 * One call to /api/v1 with the admin cookie. Changes carry the CSRF header the API demands of
 * cookie-authenticated writes (a cross-site form cannot set it).
 */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-Gatehouse-CSRF'] = '1';
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let data: unknown = undefined;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!res.ok) {
    const err = (data as Partial<ErrorBody> | undefined)?.error ?? {
      code: 'http_' + res.status,
      message: `the API answered ${res.status} ${res.statusText}`,
    };
    // Sign-in itself answers 401 for a wrong password: that is not a lost session.
    if (res.status === 401 && path !== '/session') onUnauthorized();
    throw new ApiError(res.status, err);
  }
  return data as T;
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Which form field an API issue is about, without the `body.` (or `params.`) prefix answers carry. */
export function issueField(field: string): string {
  return field.replace(/^(body|params)\./, '');
}

/**
 * An API error split into messages per form field (`which` names the field an issue's path is
 * about, e.g. `groups.0` → `groups`) and the rest, shown above the submit button.
 */
export function splitIssues<F extends string>(
  err: unknown,
  which: (field: string) => F | undefined,
): { fields: Partial<Record<F, string>>; general: string } {
  const fields: Partial<Record<F, string>> = {};
  if (!(err instanceof ApiError) || !err.body.issues?.length) return { fields, general: messageOf(err) };
  const rest: string[] = [];
  for (const i of err.body.issues) {
    const f = which(issueField(i.field));
    if (f) fields[f] = fields[f] ? `${fields[f]}; ${i.message}` : i.message;
    else rest.push(`${i.field}: ${i.message}`);
  }
  return { fields, general: rest.join('; ') };
}
