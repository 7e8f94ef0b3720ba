import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Part } from '../lifecycle.js';
import { GatehouseError } from '../model/errors.js';
import type { Logger } from '../observe/log.js';

export interface ManagedUnboundOptions {
  bin: string;
  controlBin: string;
  /** Its own directory: config, control socket, pid file. */
  dir: string;
  /** Where it answers: `IP@PORT` (or `IP`, port 53). */
  listen: string[];
  /** Upstream resolvers (`IP` or `IP@PORT`); none: Unbound recurses from the root itself. */
  forward: string[];
  /** Who may ask it (CIDRs). */
  allow: string[];
  log: Logger;
  /** Called once it answers again after an unexpected exit (its local data is gone: push it again). */
  onRestart: () => void;
}

/** How it is doing, for status. */
export interface ManagedUnboundStatus {
  running: boolean;
  pid?: number;
  restarts: number;
  listen: string[];
  /** Why the last start failed (until one succeeds). */
  error?: string;
}

/** How long a start may take until its remote control answers. */
const START_MS = 10_000;

/**
 * An Unbound Gatehouse runs itself (as it runs nginx): its own config in the data dir, remote
 * control on a unix socket there, started with Gatehouse, restarted when it dies (with a backoff),
 * stopped with Gatehouse. One left running by an earlier Gatehouse that died is stopped first.
 */
export class ManagedUnbound implements Part {
  readonly control: string;
  private readonly conf: string;
  private readonly pidFile: string;
  private child: ChildProcess | undefined;
  private stopping = false;
  private restarts = 0;
  private delay = 100;
  private output = '';
  private error: string | undefined;

  constructor(private readonly o: ManagedUnboundOptions) {
    this.control = join(o.dir, 'control.sock');
    this.conf = join(o.dir, 'unbound.conf');
    this.pidFile = join(o.dir, 'unbound.pid');
  }

  status(): ManagedUnboundStatus {
    const pid = this.child?.pid;
    return {
      running: this.child !== undefined && this.error === undefined,
      ...(pid ? { pid } : {}),
      restarts: this.restarts,
      listen: this.o.listen,
      ...(this.error ? { error: this.error } : {}),
    };
  }

  async start(): Promise<void> {
    await mkdir(this.o.dir, { recursive: true, mode: 0o700 });
    await this.stopLeftover();
    await writeFile(this.conf, this.config(), { mode: 0o600 });
    // One that cannot start (its port taken) leaves Gatehouse running: logged, in status, retried
    // as after a crash (its exit schedules the next try).
    await this.run().catch((err: unknown) =>
      this.o.log.error({ err: String(err) }, 'Unbound did not start; retrying'),
    );
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(this.pidFile, { force: true });
  }

  /** Spawns it and waits until its remote control answers; rejects with its own words if it does not. */
  private async run(): Promise<void> {
    await rm(this.control, { force: true });
    this.output = '';
    const child = spawn(this.o.bin, ['-d', '-c', this.conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const collect = (d: Buffer) => (this.output = (this.output + d.toString()).slice(-4000));
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.on('exit', (code, signal) => this.exited(child, code, signal));
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (err) => {
        this.error = `cannot run ${this.o.bin}: ${err.message}`;
        reject(new GatehouseError('lan_dns_failed', this.error, 500));
      });
    });
    if (child.pid) await writeFile(this.pidFile, `${child.pid}\n`);
    const deadline = Date.now() + START_MS;
    while (!(await this.answers())) {
      if (this.child !== child || Date.now() > deadline) {
        if (this.child === child) child.kill('SIGKILL');
        const words = this.output.replace(/\[\d+\] unbound\[[0-9:]+\] /g, '').trim();
        this.error = `Unbound did not start: ${words || 'no answer on its control socket'}`;
        throw new GatehouseError('lan_dns_failed', this.error, 500);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    this.delay = 100;
    this.error = undefined;
  }

  private exited(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = undefined;
    if (this.stopping) return;
    this.o.log.error({ code, signal, output: this.output.slice(-1000) }, 'Unbound exited; restarting it');
    const delay = this.delay;
    this.delay = Math.min(this.delay * 2, 5000);
    setTimeout(() => {
      if (this.stopping || this.child) return;
      this.restarts += 1;
      this.run().then(
        () => this.o.onRestart(),
        (err: unknown) => this.o.log.error({ err: String(err) }, 'Unbound restart failed'),
      );
    }, delay).unref();
  }

  private answers(): Promise<boolean> {
    return new Promise((resolve) =>
      execFile(this.o.controlBin, ['-c', this.conf, '-s', this.control, 'status'], { timeout: 2000 }, (err) =>
        resolve(!err),
      ),
    );
  }

  /** An Unbound on this config whose Gatehouse died would hold the port: stopped. */
  private async stopLeftover(): Promise<void> {
    const pid = Number((await readFile(this.pidFile, 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(pid) || pid <= 1) return;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmdline.includes(this.conf)) return;
      this.o.log.warn({ pid }, 'stopping an Unbound left running by an earlier Gatehouse');
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    } catch {
      // not running
    }
  }

  private config(): string {
    const q = (s: string) => `"${s}"`;
    const loopback = this.o.forward.some((f) => /^(127\.|::1(@|$))/.test(f));
    return [
      '# Written by Gatehouse at each start (lan_dns_unbound_listen): changes here are overwritten.',
      'server:',
      ...this.o.listen.map((l) => `  interface: ${l}`),
      '  username: ""',
      '  chroot: ""',
      `  directory: ${q(this.o.dir)}`,
      '  pidfile: ""',
      '  use-syslog: no',
      '  logfile: ""',
      '  module-config: "iterator"',
      ...(loopback ? ['  do-not-query-localhost: no'] : []),
      ...this.o.allow.map((c) => `  access-control: ${c} allow`),
      'remote-control:',
      '  control-enable: yes',
      '  control-use-cert: no',
      `  control-interface: ${q(this.control)}`,
      ...(this.o.forward.length
        ? ['forward-zone:', '  name: "."', ...this.o.forward.map((f) => `  forward-addr: ${f}`)]
        : []),
      '',
    ].join('\n');
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
