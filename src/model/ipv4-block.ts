import { isIPv4 } from 'node:net';

/**
 * IPv4 blocks as numbers: enough for the tunnel range, the addresses allocated in it and the
 * subnets sites announce (this increment carries IPv4 through the tunnel).
 */
export interface Block {
  /** The network address as an unsigned 32-bit number. */
  base: number;
  bits: number;
}

export function ipToNumber(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

export function numberToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** `a.b.c.d/n` (or a bare address: /32), or undefined when it is not one. */
export function parseBlock(s: string): (Block & { exact: boolean }) | undefined {
  const [addr = '', bitsText = '32', extra] = s.split('/');
  if (extra !== undefined || !isIPv4(addr) || !/^[0-9]{1,2}$/.test(bitsText)) return undefined;
  const bits = Number(bitsText);
  if (bits > 32) return undefined;
  const n = ipToNumber(addr);
  const size = 2 ** (32 - bits);
  const base = n - (n % size);
  return { base, bits, exact: base === n };
}

export function blockSize(b: Block): number {
  return 2 ** (32 - b.bits);
}

export function overlaps(a: Block, b: Block): boolean {
  return a.base < b.base + blockSize(b) && b.base < a.base + blockSize(a);
}

export function contains(b: Block, ip: string): boolean {
  if (!isIPv4(ip)) return false;
  const n = ipToNumber(ip);
  return n >= b.base && n < b.base + blockSize(b);
}

export function formatBlock(b: Block): string {
  return `${numberToIp(b.base)}/${b.bits}`;
}

/**
 * The lowest host address of `range` not in `used`: neither the network nor the broadcast address
 * (a /31 or /32 range has no room for an edge and a site, and is refused by the schema).
 */
export function firstFree(range: Block, used: ReadonlySet<string>): string | undefined {
  const size = blockSize(range);
  for (let i = 1; i < size - 1; i++) {
    const ip = numberToIp(range.base + i);
    if (!used.has(ip)) return ip;
  }
  return undefined;
}
