import { z } from 'zod';
import type { TunnelSection } from '../compile/edge-config.js';
import type { Logger } from '../observe/log.js';
import { applyClientTable, removeClientTable } from './clients-nft.js';
import { loadOrCreateKeys, type WgKeyPair } from './keys.js';
import { applySiteForward, removeSiteForward } from './site-forward.js';
import { WgLink } from './wg.js';
import { edgeRoutes, edgeWgSpec, prefixOf } from './wg-config.js';

export interface EdgeTunnelOptions {
  /** Where its private key and interface config live (0700; the key file 0600). */
  dir: string;
  iface: string;
  /** The UDP port wireguard-go listens on. */
  port: number;
  /** Sends this edge's public key to the control plane; answers with its tunnel address. */
  register: (publicKey: string) => Promise<{ address: string; range: string }>;
  log: Logger;
}

/** An edge agent's registration: its node token, to the control URL it follows now. */
export function registerWithControl(
  control: () => string,
  token: string,
  endpoint: string,
  port: number,
): (publicKey: string) => Promise<{ address: string; range: string }> {
  return async (publicKey) => {
    const res = await fetch(`${control()}/edge/v1/tunnel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ public_key: publicKey, endpoint, port }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok)
      throw new Error(`the control plane refused the tunnel registration (${res.status}): ${text}`);
    return registered.parse(JSON.parse(text));
  };
}

const registered = z.object({ address: z.string(), range: z.string() });

/** How often a failed apply is tried again, and a dead wireguard-go looked for. */
const RETRY_MS = 2000;

/**
 * A public edge's WireGuard server (an edge agent's `--tunnel-port`): its key made and kept here,
 * its public key and endpoint sent to the control plane (which answers with its tunnel address),
 * then the sites of each config as peers, with routes for their subnets into the interface. A new
 * config changes peers in place; the interface is not restarted.
 */
export class EdgeTunnel {
  private readonly link: WgLink;
  private keys: WgKeyPair | undefined;
  private address: { address: string; range: string } | undefined;
  private want: TunnelSection | undefined;
  private appliedHash = '';
  private running: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  lastError = '';

  constructor(private readonly o: EdgeTunnelOptions) {
    this.link = new WgLink({ name: o.iface, dir: o.dir, log: o.log });
    this.timer = setInterval(() => {
      if (this.lastError || (this.want && !this.link.running)) this.kick();
    }, RETRY_MS);
    this.timer.unref();
  }

  /** The sites of a new config (undefined: none). Applied in the background, retried until it works. */
  set(section: TunnelSection | undefined): void {
    this.want = section;
    this.kick();
  }

  private kick(): void {
    this.running = this.running.then(() => this.apply()).catch(() => undefined);
  }

  private async apply(): Promise<void> {
    const want = this.want;
    if (this.stopped) return;
    try {
      // Registered at the start, sites or not: a site's connector learns of this edge from it.
      this.keys ??= await loadOrCreateKeys(this.o.dir);
      if (!this.address || (want && this.address.range !== want.range))
        this.address = await this.o.register(this.keys.publicKey);
      if (!want) {
        await removeClientTable(this.o.iface);
        await removeSiteForward(this.o.iface);
        await this.link.down();
        this.appliedHash = '';
        this.lastError = '';
        return;
      }
      const restarted = !this.link.running;
      await this.link.up();
      if (restarted || want.hash !== this.appliedHash) {
        await this.link.sync(edgeWgSpec(this.keys.privateKey, this.o.port, want));
        await this.link.address(`${this.address.address}/${prefixOf(want.range)}`);
        await this.link.routes(edgeRoutes(want));
        // VPN clients' policies, enforced here (docs/vpn-clients.md).
        await applyClientTable(this.o.iface, want);
        // Site-to-site: forwarding between the opted-in sites' subnets (site-forward.ts).
        await applySiteForward(this.o.iface, want);
        this.appliedHash = want.hash;
        this.o.log.info(
          { iface: this.o.iface, sites: want.peers.map((p) => p.site), address: this.address.address },
          'tunnel: sites applied',
        );
      }
      this.lastError = '';
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      if (msg !== this.lastError) this.o.log.warn({ err: msg }, 'tunnel: could not apply; trying again');
      this.lastError = msg;
    }
  }

  /** Its peers' handshakes and bytes (none while the interface is down). */
  async peerStats(): Promise<Map<string, { handshake: number; rx: number; tx: number }>> {
    return this.link.running ? this.link.peerStats() : new Map();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await removeClientTable(this.o.iface);
    await removeSiteForward(this.o.iface);
    await this.link.down();
  }
}
