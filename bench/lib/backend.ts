import { forkChild, isRecord, nextMessage } from './child.js';

export interface Backend {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

function isPortMessage(m: unknown): m is { port: number } {
  return isRecord(m) && typeof m.port === 'number';
}

/** Starts the shared upstream (backend-child.ts) in its own process on a free loopback port. */
export async function startBackend(): Promise<Backend> {
  const f = forkChild('./backend-child.js');
  try {
    const { port } = await nextMessage(f.child, isPortMessage, 10_000);
    return { port, pid: f.child.pid ?? 0, stop: f.stop };
  } catch (err) {
    await f.stop();
    throw err;
  }
}
