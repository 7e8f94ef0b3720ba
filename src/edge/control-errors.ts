/** Milliseconds to one decimal, for the agent's logged stages. */
export function round1(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** The control plane did not answer (refused, reset, timed out) or answered a 5xx: as good as down. */
export class ControlDown extends Error {
  override name = 'ControlDown';
}

/** A failed fetch as ControlDown (with its cause), so the agent follows the next control URL. */
export function unreachable(err: unknown): never {
  if (err instanceof Error && err.name === 'AbortError') throw err;
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  throw new ControlDown(`${err instanceof Error ? err.message : String(err)}${cause}`);
}
