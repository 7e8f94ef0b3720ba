import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../observe/log.js';
import { writeFileAtomic } from '../store/files.js';
import { parseWgDump } from './latency.js';
import { renderWgConfig, type WgInterfaceSpec } from './wg-config.js';

const run = promisify(execFile);

export interface WgLinkOptions {
  /** The interface name (at most 15 characters; unique on the machine: the UAPI socket is shared). */
  name: string;
  /** Where its config file (with the private key, 0600) is written. */
  dir: string;
  log: Logger;
  /** `wireguard-go` (userspace; no kernel module needed). */
  wireguardGo?: string;
  /** Never the kernel's WireGuard, even where it exists (GATEHOUSE_WG_USERSPACE=1 says the same). */
  userspace?: boolean;
  wg?: string;
}

/** Interface names the kernel accepts and no shell or config line reads twice. */
export const IFACE_RE = /^[A-Za-z0-9_.-]{1,15}$/;

/** Where a link's packets are handled: the kernel's module, or `wireguard-go` in userspace. */
export type WgMode = 'kernel' | 'userspace';

/**
 * One WireGuard interface: the kernel's where the module exists (`ip link add … type wireguard`),
 * else run by `wireguard-go` (a child of this process, stopped with it). Either way it is set with
 * `wg syncconf` (peers change without dropping the others' sessions) and `ip` (its address and the
 * routes into it). Changes are applied in place: no restart of the interface.
 */
export class WgLink {
  private child: ChildProcess | undefined;
  /** A kernel interface made by up() and not yet removed by down(). */
  private kernelLink = false;
  private modeUsed: WgMode | undefined;
  private exited: Promise<void> = Promise.resolve();
  private routesSet = new Set<string>();
  private addressSet = '';

  constructor(private readonly o: WgLinkOptions) {
    if (!IFACE_RE.test(o.name))
      throw new Error(`wireguard: ${o.name}: not an interface name (1-15 characters)`);
  }

  get name(): string {
    return this.o.name;
  }

  get running(): boolean {
    if (this.kernelLink) return true;
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** How the last up() made the interface (undefined before the first). */
  get mode(): WgMode | undefined {
    return this.modeUsed;
  }

  private wg(args: string[]) {
    return run(this.o.wg ?? 'wg', args, { timeout: 10_000 });
  }

  /**
   * Makes the interface: the kernel's if it has WireGuard, else wireguard-go (started once, and
   * again if it died), and waits until `wg` can talk to it.
   */
  async up(): Promise<void> {
    if (this.running) return;
    // A stale interface of ours (a crash) would make either refuse the name.
    await run('ip', ['link', 'del', 'dev', this.o.name], { timeout: 10_000 }).catch(() => undefined);
    this.routesSet.clear();
    this.addressSet = '';
    const userspace = this.o.userspace ?? process.env.GATEHOUSE_WG_USERSPACE === '1';
    if (!userspace && (await this.kernelUp())) return;
    if (this.modeUsed !== 'userspace')
      this.o.log.info(
        { iface: this.o.name },
        'WireGuard runs in userspace (wireguard-go): no kernel module here',
      );
    this.modeUsed = 'userspace';
    try {
      await this.startUserspace();
    } catch (err) {
      if (this.running) throw err;
      // Seen once on a loaded machine: wireguard-go exiting at start. One more try, then the error.
      this.o.log.warn({ iface: this.o.name, err: String(err) }, 'wireguard-go exited at start; trying again');
      await run('ip', ['link', 'del', 'dev', this.o.name], { timeout: 10_000 }).catch(() => undefined);
      await this.startUserspace();
    }
  }

  /** Starts wireguard-go and waits until `wg` can talk to its interface. */
  private async startUserspace(): Promise<void> {
    const child = spawn(this.o.wireguardGo ?? 'wireguard-go', ['-f', this.o.name], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_LEVEL: 'error' },
    });
    // Its errors go to stdout, its banners to stderr: both kept for the error message.
    let stderr = '';
    const keep = (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.once('error', (err) => {
        stderr += String(err);
        resolve();
      });
      child.once('exit', (code, signal) => {
        this.o.log.warn({ iface: this.o.name, code, signal, stderr: stderr.trim() }, 'wireguard-go exited');
        resolve();
      });
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (!this.running)
        throw new Error(`wireguard-go did not start ${this.o.name}: ${stderr.trim() || 'exited'}`);
      if (
        await this.wg(['show', this.o.name, 'public-key']).then(
          () => true,
          () => false,
        )
      )
        break;
      if (Date.now() > deadline) throw new Error(`wireguard-go: ${this.o.name} not up within 10 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The kernel's interface, if the kernel has WireGuard (Debian's kernels do; some VMs' do not). */
  private async kernelUp(): Promise<boolean> {
    const made = await run('ip', ['link', 'add', 'dev', this.o.name, 'type', 'wireguard'], {
      timeout: 10_000,
    }).then(
      () => true,
      () => false,
    );
    if (!made) return false;
    this.kernelLink = true;
    if (this.modeUsed !== 'kernel') this.o.log.info({ iface: this.o.name }, 'WireGuard runs in the kernel');
    this.modeUsed = 'kernel';
    return true;
  }

  /** Peers and keys as `spec` says; only what differs changes. */
  async sync(spec: WgInterfaceSpec): Promise<void> {
    await mkdir(this.o.dir, { recursive: true, mode: 0o700 });
    const file = join(this.o.dir, `${this.o.name}.conf`);
    await writeFileAtomic(file, renderWgConfig(spec), 0o600);
    await this.wg(['syncconf', this.o.name, file]).catch((err: unknown) => {
      // The kernel's interface was removed under us: the next up() makes it again.
      if (this.kernelLink && /No such device/i.test(String(err))) this.kernelLink = false;
      throw err;
    });
  }

  /** The interface's own address (`100.96.0.1/24`) and link up. */
  async address(cidr: string): Promise<void> {
    if (cidr === this.addressSet) return;
    await run('ip', ['-4', 'addr', 'flush', 'dev', this.o.name], { timeout: 10_000 });
    await run('ip', ['addr', 'add', cidr, 'dev', this.o.name], { timeout: 10_000 });
    await run('ip', ['link', 'set', 'dev', this.o.name, 'up'], { timeout: 10_000 });
    this.addressSet = cidr;
  }

  /** Routes into the tunnel: exactly `blocks` (added and removed as they change). */
  async routes(blocks: string[]): Promise<void> {
    const want = new Set(blocks);
    for (const b of want)
      if (!this.routesSet.has(b))
        await run('ip', ['route', 'replace', b, 'dev', this.o.name], { timeout: 10_000 });
    for (const b of this.routesSet)
      if (!want.has(b))
        await run('ip', ['route', 'del', b, 'dev', this.o.name], { timeout: 10_000 }).catch(() => undefined);
    this.routesSet = want;
  }

  /** Each peer's newest handshake (Unix seconds; 0: none yet), by public key. */
  async handshakes(): Promise<Map<string, number>> {
    const { stdout } = await this.wg(['show', this.o.name, 'latest-handshakes']);
    const out = new Map<string, number>();
    for (const line of stdout.split('\n')) {
      const [key, at] = line.trim().split(/\s+/);
      if (key && at) out.set(key, Number(at));
    }
    return out;
  }

  /** Each peer's newest handshake (Unix seconds) and bytes received / sent, by public key. */
  async peerStats(): Promise<Map<string, { handshake: number; rx: number; tx: number }>> {
    const { stdout } = await this.wg(['show', this.o.name, 'dump']);
    return parseWgDump(stdout);
  }

  /** Removes the interface (the kernel's) or stops wireguard-go (the interface goes with it). */
  async down(): Promise<void> {
    if (this.kernelLink) {
      this.kernelLink = false;
      await run('ip', ['link', 'del', 'dev', this.o.name], { timeout: 10_000 }).catch(() => undefined);
      return;
    }
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(timer);
  }
}
