import type { VpnClientList } from '../../../../src/api/views/index.js';

export type VpnClientShape = VpnClientList['clients'][number];

/** WireGuard re-keys every 2 min while traffic flows: a handshake younger than this counts as online. */
export const ONLINE_MS = 180_000;

export function isOnline(c: VpnClientShape, now = Date.now()): boolean {
  return !c.expired && !!c.last_handshake && now - Date.parse(c.last_handshake) < ONLINE_MS;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** `0 B`, `12.3 KiB`, `4.0 GiB`. */
export function bytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${UNITS[u]}`;
}

/** A probe's round trip (sites' tunnels, every 5 s): `0.42 ms`, `12 ms`. */
export function latency(ms: number): string {
  return `${ms < 10 ? ms.toFixed(2) : Math.round(ms)} ms`;
}

export type PolicyKind = 'full' | 'services' | 'ports';

/** The API's policy string (docs/vpn-clients.md) from the form's choice. */
export function policyOf(kind: PolicyKind, services: string[], ports: string): string {
  if (kind === 'services') return `services:${services.join(',')}`;
  if (kind === 'ports') return `ports:${ports.replace(/\s+/g, '')}`;
  return 'full';
}
