import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

// Facts about this machine the rendered config depends on.

/** The machine's DNS servers (for nginx's OCSP stapling). */
export function systemResolvers(): string[] {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8')
      .split('\n')
      .map((l) => /^nameserver\s+([0-9a-fA-F.:]+)\s*$/.exec(l)?.[1])
      .filter((ip): ip is string => !!ip)
      .map((ip) => (ip.includes(':') ? `[${ip}]` : ip));
  } catch {
    return [];
  }
}

/** Whether the machine has an IPv6 address (nginx cannot listen on [::] without one). */
export function hasIPv6(): boolean {
  return Object.values(networkInterfaces()).some((list) => list?.some((a) => a.family === 'IPv6'));
}
