import { forkChild, isRecord, nextMessage } from './child.js';

/** What the parent asks the load process to do (passed as JSON in argv). */
export interface LoadPlan {
  registerPort: number;
  token: string;
  clients: number;
  seconds: number;
  /** Subdomains are `${prefix}-${client}-${n}`: unique across the whole run. */
  prefix: string;
  backendPort: number;
  /** Each registration on a fresh connection (an agent registering itself); else keep-alive clients. */
  newConnection: boolean;
}

export interface LoadResult {
  kind: 'result';
  elapsedMs: number;
  /** Subdomains whose registration was answered 2xx. */
  landed: string[];
  /** Count per HTTP status (or `error` for a failed connection). */
  statuses: Record<string, number>;
  latencyMs: { p50: number; p99: number; max: number };
}

export function isLoadResult(m: unknown): m is LoadResult {
  return isRecord(m) && m.kind === 'result' && Array.isArray(m.landed) && typeof m.elapsedMs === 'number';
}

export function isLoadPlan(v: unknown): v is LoadPlan {
  return (
    isRecord(v) &&
    typeof v.registerPort === 'number' &&
    typeof v.token === 'string' &&
    typeof v.clients === 'number' &&
    typeof v.seconds === 'number' &&
    typeof v.prefix === 'string' &&
    typeof v.backendPort === 'number' &&
    typeof v.newConnection === 'boolean'
  );
}

/** Runs the registration load in its own process (register-load-child.ts) and returns its tally. */
export async function runRegisterLoad(plan: LoadPlan): Promise<LoadResult> {
  const f = forkChild('./register-load-child.js', [JSON.stringify(plan)]);
  try {
    return await nextMessage(f.child, isLoadResult, (plan.seconds + 120) * 1000);
  } finally {
    await f.stop();
  }
}
