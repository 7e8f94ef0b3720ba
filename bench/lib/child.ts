import { fork, type ChildProcess } from 'node:child_process';
import { own, stopChild } from './cleanup.js';

export interface Forked {
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Forks a compiled sibling module (dist/bench/lib/FILE). Load generators and the backend run as their
 * own processes so that their CPU use does not share the event loop of the Gatehouse under test.
 */
export function forkChild(file: string, args: string[] = []): Forked {
  const child = fork(new URL(file, import.meta.url), args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  if (child.pid !== undefined) own(child.pid);
  return { child, stop: () => stopChild(child) };
}

/** The next IPC message from `child` that passes `is`; rejects if the child exits or time runs out. */
export function nextMessage<M>(
  child: ChildProcess,
  is: (m: unknown) => m is M,
  timeoutMs: number,
): Promise<M> {
  return new Promise((resolve, reject) => {
    const finish = (f: () => void) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      child.off('error', onError);
      f();
    };
    const onExit = (code: number | null) =>
      finish(() => reject(new Error(`child exited (code ${String(code)}) before answering`)));
    const onError = (err: Error) => finish(() => reject(err));
    const onMessage = (m: unknown) => {
      if (is(m)) finish(() => resolve(m));
    };
    const timer = setTimeout(
      () => finish(() => reject(new Error('child did not answer in time'))),
      timeoutMs,
    );
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
