import { createHash } from 'node:crypto';
import type { TunnelPeer, TunnelSection } from '../compile/edge-config.js';

/**
 * WireGuard configuration as pure functions: what an edge and a site put on their interfaces, in
 * the format `wg syncconf` reads (it changes only what differs: peers added or removed, allowed IPs
 * changed, without dropping the sessions of the others).
 */

export interface WgPeerSpec {
  publicKey: string;
  allowedIps: string[];
  /** HOST:PORT to send to first; a server's peers have none (they are learnt as packets arrive). */
  endpoint?: string;
  /** Seconds between keepalives: a client behind NAT keeps its mapping open with them. */
  keepalive?: number;
}

export interface WgInterfaceSpec {
  privateKey: string;
  /** The server's UDP port; a client lets the kernel pick one. */
  listenPort?: number;
  peers: WgPeerSpec[];
}

/** What a site's connector receives: its address, and the public edges to dial. */
export interface SiteTunnelConfig {
  hash: string;
  site: string;
  address: string;
  range: string;
  subnets: string[];
  /**
   * Site-to-site: the other opted-in sites' subnets (empty when this site has it off). The
   * connector routes them through one public edge at a time, its hub (site-hub-monitor.ts).
   * Absent in a config cached by an older control plane.
   */
  remote?: string[];
  /** The public edges to dial, by node name; the first is the primary hub, the next the fallback. */
  edges: { node: string; publicKey: string; address: string; endpoint: string }[];
}

/** A client behind NAT: the keepalive WireGuard's documentation suggests for NAT (and the issue asks). */
export const SITE_KEEPALIVE_S = 25;

/** Every value goes into a line of its own: anything that could start another line or key is refused. */
const SAFE = /^[A-Za-z0-9+/=.:[\]-]+$/;

function safe(v: string, what: string): string {
  if (!SAFE.test(v)) throw new Error(`wireguard: ${what} has characters a config line cannot carry: ${v}`);
  return v;
}

/** The text `wg syncconf` / `wg setconf` reads (no wg-quick fields: addresses and routes are set apart). */
export function renderWgConfig(spec: WgInterfaceSpec): string {
  const lines = ['[Interface]', `PrivateKey = ${safe(spec.privateKey, 'the private key')}`];
  if (spec.listenPort !== undefined) lines.push(`ListenPort = ${Number(spec.listenPort)}`);
  const peers = [...spec.peers].sort((a, b) => a.publicKey.localeCompare(b.publicKey));
  for (const p of peers) {
    lines.push('', '[Peer]', `PublicKey = ${safe(p.publicKey, 'a public key')}`);
    lines.push(`AllowedIPs = ${p.allowedIps.map((a) => safe(a, 'an allowed IP')).join(', ')}`);
    if (p.endpoint) lines.push(`Endpoint = ${safe(p.endpoint, 'an endpoint')}`);
    if (p.keepalive) lines.push(`PersistentKeepalive = ${Number(p.keepalive)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** A public edge, the server: each site may send from its tunnel address and its announced subnets. */
export function edgeWgSpec(privateKey: string, listenPort: number, tunnel: TunnelSection): WgInterfaceSpec {
  return {
    privateKey,
    listenPort,
    peers: tunnel.peers.map((p) => ({
      publicKey: p.publicKey,
      allowedIps: [`${p.address}/32`, ...p.subnets],
    })),
  };
}

/**
 * A site, the client: each public edge at its endpoint, kept open through NAT by keepalives. The
 * hub (the node named `hub`) also carries the other sites' subnets: WireGuard routes a block to one
 * peer of an interface only, so they move together from hub to hub.
 */
export function siteWgSpec(privateKey: string, cfg: SiteTunnelConfig, hub?: string): WgInterfaceSpec {
  return {
    privateKey,
    peers: cfg.edges.map((e) => ({
      publicKey: e.publicKey,
      allowedIps: [`${e.address}/32`, ...(e.node === hub ? (cfg.remote ?? []) : [])],
      endpoint: e.endpoint,
      keepalive: SITE_KEEPALIVE_S,
    })),
  };
}

/** The blocks an edge routes into its tunnel interface (the range itself comes with the address). */
export function edgeRoutes(tunnel: TunnelSection): string[] {
  return [...new Set(tunnel.peers.flatMap((p) => p.subnets))].sort();
}

function digest(o: unknown): string {
  return createHash('sha256').update(JSON.stringify(o)).digest('hex');
}

/** The section public edges get in their config, with a hash over everything in it. */
export function tunnelSection(range: string, peers: TunnelPeer[]): TunnelSection {
  const sorted = [...peers].sort((a, b) => a.site.localeCompare(b.site));
  return { hash: digest([range, sorted]), range, peers: sorted };
}

export function siteTunnelConfig(c: Omit<SiteTunnelConfig, 'hash'>): SiteTunnelConfig {
  const edges = [...c.edges].sort((a, b) => a.node.localeCompare(b.node));
  return { ...c, edges, hash: digest([c.site, c.address, c.range, c.subnets, c.remote, edges]) };
}

/** The prefix length of a block (`100.96.0.0/24` → 24). */
export function prefixOf(block: string): number {
  return Number(block.split('/')[1] ?? 32);
}
