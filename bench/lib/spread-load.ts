import { forkChild, isRecord, nextMessage } from './child.js';
import type { LoadResult } from './register-load.js';
import { isLoadResult } from './register-load.js';

/** P13R's load: P5's clients (a new connection per registration), spread over several replicas. */
export interface SpreadPlan {
  /** Client i posts to registerPorts[i % length]. */
  registerPorts: number[];
  token: string;
  clients: number;
  seconds: number;
  /** Subdomains are `${prefix}-${client}-${n}`: unique across the whole run. */
  prefix: string;
  backendPort: number;
}

export interface SpreadResult extends LoadResult {
  /** 2xx answers per replica, in registerPorts' order. */
  perPort: number[];
}

export function isSpreadPlan(v: unknown): v is SpreadPlan {
  return (
    isRecord(v) &&
    Array.isArray(v.registerPorts) &&
    v.registerPorts.every((p) => typeof p === 'number') &&
    typeof v.token === 'string' &&
    typeof v.clients === 'number' &&
    typeof v.seconds === 'number' &&
    typeof v.prefix === 'string' &&
    typeof v.backendPort === 'number'
  );
}

function isSpreadResult(m: unknown): m is SpreadResult {
  return isLoadResult(m) && isRecord(m) && Array.isArray(m.perPort);
}

/** Runs the load in its own process (spread-load-child.ts) and returns its tally. */
export async function runSpreadLoad(plan: SpreadPlan): Promise<SpreadResult> {
  const f = forkChild('./spread-load-child.js', [JSON.stringify(plan)]);
  try {
    return await nextMessage(f.child, isSpreadResult, (plan.seconds + 120) * 1000);
  } finally {
    await f.stop();
  }
}
