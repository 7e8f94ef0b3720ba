import { isIPv4, isIPv6 } from 'node:net';

/**
 * CIDR arithmetic for access that Gatehouse's model has no direct word for. An access lists who may
 * pass (any of them); "only from these networks AND signed in" becomes a deny rule for every address
 * outside the networks, which is what `complement` computes.
 */

interface Range {
  v6: boolean;
  start: bigint;
  end: bigint;
}

const BITS = { v4: 32n, v6: 128n };

function parseV4(a: string): bigint {
  return a.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function parseV6(a: string): bigint {
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  let text = a;
  if (v4tail) {
    const n = parseV4(v4tail[1] as string);
    text =
      a.slice(0, -(v4tail[1] as string).length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** A CIDR (or single address) as a range; undefined when it is not one. */
export function toRange(cidr: string): Range | undefined {
  const [addr = '', bitsText] = cidr.split('/');
  const v6 = isIPv6(addr) && !addr.includes('%');
  if (!v6 && !isIPv4(addr)) return undefined;
  const width = v6 ? BITS.v6 : BITS.v4;
  const bits = bitsText === undefined ? width : BigInt(Number(bitsText));
  if (bitsText !== undefined && !/^[0-9]{1,3}$/.test(bitsText)) return undefined;
  if (bits > width) return undefined;
  const value = v6 ? parseV6(addr) : parseV4(addr);
  const host = (1n << (width - bits)) - 1n;
  return { v6, start: value & ~host, end: (value & ~host) | host };
}

function format(v6: boolean, value: bigint): string {
  if (!v6) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  const groups = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((s) => ((value >> s) & 0xffffn).toString(16));
  // Shorten the longest run of zero groups to "::" (RFC 5952).
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.len && j - i > 1) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  if (best.at < 0) return groups.join(':');
  const left = groups.slice(0, best.at).join(':');
  const right = groups.slice(best.at + best.len).join(':');
  return `${left}::${right}`;
}

/** The fewest CIDR blocks that cover exactly [start, end]. */
function rangeToCidrs(v6: boolean, start: bigint, end: bigint): string[] {
  const width = v6 ? BITS.v6 : BITS.v4;
  const out: string[] = [];
  let cur = start;
  while (cur <= end) {
    let size = 0n;
    // Grow the block while it stays aligned and inside the range.
    while (size < width) {
      const next = size + 1n;
      const mask = (1n << next) - 1n;
      if ((cur & mask) !== 0n || cur + mask > end) break;
      size = next;
    }
    out.push(`${format(v6, cur)}/${width - size}`);
    cur += 1n << size;
  }
  return out;
}

/**
 * Every address (IPv4 and IPv6) outside `cidrs`, as CIDR blocks. A family `cidrs` does not mention
 * is wholly outside (0.0.0.0/0 or ::/0).
 */
export function complement(cidrs: string[]): string[] {
  const out: string[] = [];
  for (const v6 of [false, true]) {
    const width = v6 ? BITS.v6 : BITS.v4;
    const ranges = cidrs
      .map(toRange)
      .filter((r): r is Range => r !== undefined && r.v6 === v6)
      .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    let next = 0n;
    for (const r of ranges) {
      if (r.start > next) out.push(...rangeToCidrs(v6, next, r.start - 1n));
      if (r.end + 1n > next) next = r.end + 1n;
    }
    const max = (1n << width) - 1n;
    if (next <= max) out.push(...rangeToCidrs(v6, next, max));
  }
  return out;
}

/** Splits a list into chunks of at most `n` (a rule holds at most 64 CIDRs). */
export function chunks<T>(items: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += n) out.push(items.slice(i, i + n));
  return out;
}
