import { createServer } from 'node:net';
import { isIPv4, isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { HostChecks } from '../registry/registry.js';

/** This machine's addresses, loopback ranges and the unspecified addresses. */
export function isLocalAddress(ip: string): boolean {
  const v = ip.toLowerCase();
  if (isIPv4(v) && (v.startsWith('127.') || v === '0.0.0.0')) return true;
  if (isIPv6(v) && (v === '::1' || v === '::' || v.startsWith('::ffff:127.'))) return true;
  return Object.values(networkInterfaces()).some((list) => list?.some((a) => a.address.toLowerCase() === v));
}

/** Whether nginx could listen on `port` on all interfaces (it binds 0.0.0.0, and [::] with IPv6). */
export async function portFree(port: number): Promise<boolean> {
  const hasV6 = Object.values(networkInterfaces()).some((l) => l?.some((a) => a.family === 'IPv6'));
  for (const host of hasV6 ? ['0.0.0.0', '::'] : ['0.0.0.0']) {
    const ok = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen({ port, host, ipv6Only: host === '::' }, () => srv.close(() => resolve(true)));
    });
    if (!ok) return false;
  }
  return true;
}

export const hostChecks: HostChecks = { isLocal: isLocalAddress, portFree };
