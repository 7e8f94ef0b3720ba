import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', '..');

export interface EdgeProcess {
  proc: ChildProcess;
  /** SIGTERM and wait for the exit (the agent stops its nginx first). */
  stop(): Promise<void>;
}

/** An edge agent in its own process, as an operator runs it (`gatehouse edge …`, built dist). */
export function startEdgeAgent(o: {
  /** Both omitted: an enrolled edge's later start, from its stored credentials. */
  control?: string;
  token?: string;
  dir: string;
  httpPort: number;
  httpsPort?: number;
  logLevel?: string;
  /** Flags added as they are (`--geoip-db FILE`, ...). */
  extra?: string[];
}): EdgeProcess {
  const proc = spawn(
    process.execPath,
    [
      join(root, 'bin', 'gatehouse.js'),
      'edge',
      ...(o.control ? ['--control', o.control] : []),
      ...(o.token ? ['--node-token', o.token] : []),
      '--edge-dir',
      o.dir,
      '--edge-http-port',
      String(o.httpPort),
      '--edge-https-port',
      String(o.httpsPort ?? 0),
      '--log-level',
      o.logLevel ?? 'warn',
      ...(o.extra ?? []),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  return {
    proc,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}
