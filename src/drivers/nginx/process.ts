import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { GatehouseError } from '../../model/errors.js';
import type { Logger } from '../../observe/log.js';
import { newEmergencies, summarize } from './error-log.js';

export interface NginxCommand {
  bin: string;
  prefix: string;
  /** Path of the main config file that the running master reads (a symlinked generation). */
  conf: string;
  errorLog: string;
  /**
   * Unix sockets the config listens on. nginx removes them on a graceful exit only; after a hard
   * kill a stale file would make the next start fail with "address already in use".
   */
  unixSockets: string[];
  /** Added to Gatehouse's own environment for nginx. */
  env?: Record<string, string>;
}

/** `nginx -t` on a config; resolves with nginx's own message when the check fails. */
export function testConfig(cmd: NginxCommand, conf: string): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(
      cmd.bin,
      ['-t', '-q', '-p', cmd.prefix, '-c', conf, '-e', cmd.errorLog],
      { timeout: 60_000 },
      (err, stdout, stderr) => resolve({ ok: !err, output: `${stdout}${stderr}`.trim() }),
    );
  });
}

/** Asks the status socket which config hash the workers serve; undefined while none answers. */
export function liveHash(socketPath: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/version', timeout: 1000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(res.statusCode === 200 ? body : undefined));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

/** Resolves once nginx answers with `generation` on its status socket (a restarted master, say). */
export async function untilServing(socketPath: string, generation: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while ((await liveHash(socketPath)) !== generation) {
    if (Date.now() > deadline)
      throw new GatehouseError(
        'nginx_start_failed',
        `nginx did not serve ${generation} within ${ms} ms`,
        500,
      );
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Resolves once nginx (just reloaded, or started) answers with `generation`; fails at once with the
 * error log's emergency when it could not load the config, or with its output when it did not start.
 */
export async function untilLoaded(
  socketPath: string,
  generation: string,
  proc: Pick<NginxProcess, 'running' | 'output'>,
  errLog: string,
  offset: number,
): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if ((await liveHash(socketPath)) === generation) return;
    const emerg = newEmergencies(errLog, offset);
    if (emerg)
      throw new GatehouseError('nginx_reload_failed', `nginx could not load the new config: ${emerg}`, 500);
    if (!proc.running && Date.now() > deadline - 14_000) {
      const out = proc.output || newEmergencies(errLog, offset) || 'no output';
      throw new GatehouseError('nginx_start_failed', `nginx did not start: ${summarize(out)}`, 500);
    }
    if (Date.now() > deadline)
      throw new GatehouseError('nginx_reload_timeout', 'nginx did not load the new config within 15 s', 500);
    await new Promise((r) => setTimeout(r, 3));
  }
}

/**
 * The nginx master process Gatehouse manages: started in the foreground as our child (so it is
 * reaped and never outlives us unnoticed), restarted with the last good config if it dies,
 * reloaded with SIGHUP.
 */
export class NginxProcess {
  private child: ChildProcess | undefined;
  private stopping = false;
  /** Set for good by stop(): nothing may start nginx again (a late apply or restart timer). */
  private closed = false;
  private restartDelay = 100;
  private lastOutput = '';
  /** Worker pids seen under our master; killed if the master dies, so they free the ports. */
  private workers: number[] = [];
  restarts = 0;
  onUnexpectedExit: ((code: number | null, output: string) => void) | undefined;

  constructor(
    private readonly cmd: NginxCommand,
    private readonly log: Logger,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Stops a master left behind by an earlier Gatehouse that was killed (found by our pid file). */
  reapStale(pidFile: string): void {
    let pid: number;
    try {
      pid = Number(readFileSync(pidFile, 'utf8').trim());
    } catch {
      return;
    }
    if (!Number.isInteger(pid) || pid <= 1 || pid === this.child?.pid) return;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline.includes('nginx') && cmdline.includes(this.cmd.prefix)) {
        this.log.warn({ pid }, 'stopping an nginx left running by an earlier Gatehouse');
        process.kill(pid, 'SIGTERM');
      }
    } catch {
      // not running
    }
  }

  start(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('nginx was stopped for good; not starting it again'));
    this.stopping = false;
    for (const sock of this.cmd.unixSockets) rmSync(sock, { force: true });
    const child = spawn(
      this.cmd.bin,
      ['-p', this.cmd.prefix, '-c', this.cmd.conf, '-e', this.cmd.errorLog, '-g', 'daemon off;'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...this.cmd.env },
      },
    );
    this.child = child;
    this.lastOutput = '';
    const collect = (d: Buffer) => {
      this.lastOutput = (this.lastOutput + d.toString()).slice(-4000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.killOrphanedWorkers();
      if (this.stopping) return;
      this.log.error(
        { code, signal, output: this.lastOutput },
        'nginx exited; restarting with the last good config',
      );
      this.onUnexpectedExit?.(code, this.lastOutput);
      const delay = this.restartDelay;
      this.restartDelay = Math.min(this.restartDelay * 2, 5000);
      setTimeout(() => {
        if (this.stopping || this.child) return;
        this.restarts += 1;
        void this.start().catch(() => undefined);
      }, delay).unref();
    });
    // Workers appear shortly after the master; note them for the case where the master dies.
    setTimeout(() => this.child === child && this.captureWorkers(), 1000).unref();
    return new Promise((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', reject);
    });
  }

  /** The master process output seen since it started (nginx prints start-up errors here). */
  get output(): string {
    return this.lastOutput;
  }

  /** Called once a config is confirmed live: resets the restart backoff, notes the workers. */
  markHealthy(): void {
    this.restartDelay = 100;
    this.captureWorkers();
  }

  private captureWorkers(): void {
    const pid = this.child?.pid;
    if (!pid) return;
    try {
      const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
      this.workers = kids ? kids.split(/\s+/).map(Number) : [];
    } catch {
      this.workers = [];
    }
  }

  /**
   * A master killed hard leaves its workers running, holding the ports with the old config. They are
   * ours: stop the ones still named as nginx workers and no longer children of a live master.
   */
  private killOrphanedWorkers(): void {
    for (const pid of this.workers) {
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        const ppid = /PPid:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
        if (cmdline.startsWith('nginx: ') && ppid !== undefined && ppid !== String(this.child?.pid)) {
          process.kill(pid, 'SIGKILL');
        }
      } catch {
        // already gone
      }
    }
    this.workers = [];
  }

  reload(): void {
    const child = this.child;
    if (!child?.pid) throw new Error('nginx is not running');
    child.kill('SIGHUP');
    // The reload's new workers, noted as at start: a master killed later must not leave them
    // holding the ports (a reload no apply confirms, such as a drift check's, is not noted otherwise).
    // Every 50 ms for 2 s: they appear once the master has loaded the new config.
    let left = 40;
    const timer = setInterval(() => {
      if (this.child === child) this.captureWorkers();
      if (--left <= 0 || this.child !== child) clearInterval(timer);
    }, 50);
    timer.unref();
  }

  /**
   * A new master in place of the running one (it reads its environment anew: a rotated session
   * key). The old one stops gracefully (SIGQUIT); requests still open after `graceMs` are cut
   * (SIGTERM, then SIGKILL after `timeoutMs`): the ports stay closed until it is gone. The new one
   * starts from the current config and state files.
   */
  async restart(graceMs = 1000, timeoutMs = 5000): Promise<void> {
    if (this.closed) throw new Error('nginx was stopped for good; not starting it again');
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      this.stopping = true;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGQUIT');
      const fast = setTimeout(() => child.kill('SIGTERM'), graceMs);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(fast);
      clearTimeout(timer);
    }
    await this.start();
  }

  /** Graceful stop (SIGQUIT) with a deadline, then SIGKILL. */
  async stop(timeoutMs = 5000): Promise<void> {
    this.stopping = true;
    this.closed = true;
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGQUIT');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
}
