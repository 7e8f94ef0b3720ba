import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

/**
 * Processes and temp directories this bench created (our children only), so that a crash or Ctrl-C
 * never leaves an nginx master, a backend or a data dir behind. Normal shutdown stops and removes
 * each one itself; this is the safety net.
 */
const owned = new Set<number>();
const dirs = new Set<string>();

export function own(pid: number): void {
  owned.add(pid);
}

export function disown(pid: number): void {
  owned.delete(pid);
}

export function ownDir(path: string): void {
  dirs.add(path);
}

export function disownDir(path: string): void {
  dirs.delete(path);
}

/**
 * SIGTERM rather than SIGKILL: an nginx master that is killed hard leaves its workers running, while
 * SIGTERM makes it stop them and exit even after we are gone.
 */
function terminateOwned(): void {
  for (const pid of owned) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  owned.clear();
  // nginx may still be writing its logs there for a moment; a leftover temp dir is harmless.
  for (const d of dirs) rmSync(d, { recursive: true, force: true, maxRetries: 2 });
  dirs.clear();
}

process.once('exit', terminateOwned);

/** Stops a child by its pid: `signal`, then SIGKILL after `timeoutMs`; resolves once it has exited. */
export async function stopChild(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  timeoutMs = 5000,
): Promise<void> {
  if (child.pid !== undefined) disown(child.pid);
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}
