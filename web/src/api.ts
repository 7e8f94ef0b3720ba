import type { ServiceSummary } from '../../src/model/summary';

/** The management API's error shape: `{"error":{"code","message","issues"?}}`. */
export interface FieldIssue {
  field: string;
  message: string;
}
export interface ApiErrorBody {
  code: string;
  message: string;
  issues?: FieldIssue[];
  /** GET /session only: no admin user exists yet (the sign-in page shows how to make one). */
  setup_needed?: boolean;
}

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
    const err = (data as { error?: ApiErrorBody } | undefined)?.error ?? {
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

// Shapes of the responses the UI reads (only the fields it uses).
export interface Session {
  username: string;
  role: string;
}
export interface EdgeView {
  appliedVersion: number;
  downServers: string[];
  /** Servers under active health checks, as `pool address`. */
  checkedServers?: string[];
  /** Servers nginx could not get an answer from in the last minute (passive, no check needed). */
  failingServers?: { server: string; errors: number; lastStatus: string; lastAt: string }[];
  lastError: { code: string; message: string } | null;
  proxy: { running: boolean };
}
export interface Status {
  version: number;
  services: number;
  in_sync: boolean;
  edge: EdgeView & { lastError?: { code: string; message: string } };
  certificates: {
    count: number;
    next_expiry: { names: string[]; not_after: string } | null;
    issuing: { names: string[]; step: string }[];
    failed: { names: string[]; error: string; retry_at: string }[];
  };
}
export interface NodeInfo {
  name: string;
  online: boolean;
  in_sync: boolean;
}
export interface SecurityEvent {
  at: string;
  kind: string;
  ip: string;
  username: string;
  detail: string;
  /** Where the request went, when the event is about one (absent on older events). */
  host?: string;
  path?: string;
}
/** The parts of a stored service the lists read (the editor loads the whole one). */
export interface ServiceLike {
  name: string;
  hosts: string[];
  suspended?: boolean;
  access?: { links?: boolean };
  routes?: { access?: { links?: boolean } }[];
}
export interface ServiceItem {
  service: ServiceLike;
  meta: { source: string; owner?: string };
  /** Access, upstreams, HTTPS and state, derived by the API (src/model/summary.ts) as the CLI shows it. */
  summary: ServiceSummary;
}
export interface SnapshotInfo {
  version: number;
  at: string;
  actor: string;
  source: string;
  reason: string;
  changes: { name: string; op: 'create' | 'update' | 'delete' }[];
}
export interface SnapshotDiff {
  from: number;
  to: number;
  changes: { name: string; op: 'create' | 'update' | 'delete'; patch: string }[];
}
export interface LinkView {
  id: string;
  service: string;
  created_at: string;
  expires_at: string;
  max_ips: number;
  has_password: boolean;
  note: string;
  state: 'active' | 'expired' | 'revoked';
  ips: { ip: string; first_at: string }[];
}
