import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { fromZod } from '../model/errors.js';
import { missingOr } from './ha.js';

/**
 * Points a Hetzner Cloud floating IP at a server: the hook an edge runs on becoming VRRP master
 * (`gatehouse ha keepalived --on-master …`), because a cloud network routes the floating IP to one
 * server and ignores gratuitous ARP. API: POST /floating_ips/{id}/actions/assign {"server": id}.
 */

export const HETZNER_API_URL = 'https://api.hetzner.cloud/v1';

const positiveId = z.preprocess(
  (v) => (typeof v === 'string' && /^\s*[0-9]+\s*$/.test(v) ? Number(v) : v),
  z.number(missingOr('a number')).int().min(1).max(Number.MAX_SAFE_INTEGER),
);

export const hetznerAssignSchema = z.strictObject({
  floatingIpId: positiveId,
  serverId: positiveId,
  /** A file holding the API token (read + write on the project), so it is never on a command line. */
  tokenFile: z.string(missingOr('a file')).min(1),
  apiUrl: z
    .string()
    .default(HETZNER_API_URL)
    .refine(
      (u) => /^https?:\/\/[^\s/?#]+(?:\/[^\s?#]*)?$/.test(u),
      'an http(s) URL such as ' + HETZNER_API_URL,
    ),
  /** How long to wait for the assignment to finish; 0 returns once Hetzner has accepted it. */
  wait: z
    .preprocess(
      (v) => (typeof v === 'string' && /^\s*[0-9]+\s*$/.test(v) ? Number(v) : v),
      z.number(missingOr('a number of seconds')).int().min(0).max(600),
    )
    .default(60),
});
export type HetznerAssignInput = z.input<typeof hetznerAssignSchema>;
export type HetznerAssignOptions = z.output<typeof hetznerAssignSchema>;

export function parseHetznerAssignOptions(input: unknown): HetznerAssignOptions {
  const r = hetznerAssignSchema.safeParse(input);
  if (!r.success) throw fromZod(r.error);
  return r.data;
}

export interface AssignResult {
  actionId: number;
  /** `success`, or `running` when not waited for. */
  status: string;
  /** HTTP requests made: retries and polls included. */
  requests: number;
  ms: number;
}

export interface AssignTuning {
  /** Tries per request, counting the first (network errors, 429 and 5xx are retried). */
  attempts?: number;
  /** Pause before the first retry; doubled each time. */
  backoffMs?: number;
  requestTimeoutMs?: number;
  pollMs?: number;
}

/** A failure worth retrying: the network, a timeout, rate limiting or the API's own trouble. */
class Transient extends Error {}

interface Action {
  id: number;
  status: string;
  error?: { code?: string; message?: string } | null;
}

function actionOf(body: unknown): Action | undefined {
  const a = (body as { action?: unknown } | null)?.action as Partial<Action> | undefined;
  return a && typeof a.id === 'number' && typeof a.status === 'string' ? (a as Action) : undefined;
}

function apiMessage(body: unknown): string {
  const e = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (!e) return '';
  return [e.code, e.message].filter((x) => typeof x === 'string' && x).join(': ');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function readToken(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(
      `token file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  }
  const token = text.trim();
  if (!token || /\s/.test(token)) throw new Error(`token file ${file}: must hold one API token`);
  return token;
}

/**
 * Assigns the floating IP to the server and (unless `wait` is 0) waits until Hetzner reports the
 * action done. Throws with a message saying what failed: a refused token, an unknown floating IP or
 * server, or the API staying unreachable through every retry.
 */
export async function assignFloatingIp(
  o: HetznerAssignOptions & { token: string },
  tuning: AssignTuning = {},
): Promise<AssignResult> {
  const { attempts = 3, backoffMs = 500, requestTimeoutMs = 10_000, pollMs = 500 } = tuning;
  const base = o.apiUrl.replace(/\/+$/, '');
  const t0 = performance.now();
  let tries = 0;

  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    for (let i = 1; ; i++) {
      tries++;
      try {
        return await once(method, path, body);
      } catch (err) {
        if (!(err instanceof Transient) || i >= attempts) {
          const msg = err instanceof Error ? err.message : String(err);
          throw new Error(err instanceof Transient ? `${msg} (gave up after ${i} attempts)` : msg);
        }
        await sleep(backoffMs * 2 ** (i - 1));
      }
    }
  };

  const once = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${o.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(requestTimeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      throw new Transient(
        `${method} ${base}${path}: ${cause ?? (err instanceof Error ? err.message : String(err))}`,
      );
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (res.ok) return parsed;
    const detail = apiMessage(parsed) || text.slice(0, 200);
    const what = `${method} ${path} answered ${res.status}${detail ? ` (${detail})` : ''}`;
    if (res.status === 429 || res.status >= 500) throw new Transient(what);
    if (res.status === 401) throw new Error(`the Hetzner API refused the token: ${what}`);
    if (res.status === 404) throw new Error(`floating IP ${o.floatingIpId} not found: ${what}`);
    throw new Error(what);
  };

  const assigned = await call('POST', `/floating_ips/${o.floatingIpId}/actions/assign`, {
    server: o.serverId,
  });
  let action = actionOf(assigned);
  if (!action) throw new Error('the Hetzner API accepted the assignment but sent no action to follow');
  const deadline = performance.now() + o.wait * 1000;
  while (action.status === 'running' && o.wait > 0) {
    if (performance.now() > deadline) {
      throw new Error(`the assignment (action ${action.id}) is still running after ${o.wait} s`);
    }
    await sleep(pollMs);
    const polled = actionOf(await call('GET', `/floating_ips/${o.floatingIpId}/actions/${action.id}`));
    if (!polled) throw new Error(`action ${action.id}: the Hetzner API sent no action`);
    action = polled;
  }
  if (action.status === 'error') {
    const e = action.error;
    throw new Error(
      `assigning floating IP ${o.floatingIpId} to server ${o.serverId} failed: ${[e?.code, e?.message].filter(Boolean).join(': ') || 'no reason given'}`,
    );
  }
  return {
    actionId: action.id,
    status: action.status,
    requests: tries,
    ms: Math.round(performance.now() - t0),
  };
}
