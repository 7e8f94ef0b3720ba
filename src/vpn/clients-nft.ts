import { execFile } from 'node:child_process';
import type { TunnelSection } from '../compile/edge-config.js';
import type { PolicyTargets } from './clients-policy.js';

/**
 * The WireGuard server's side of VPN client policies: an nftables table of Gatehouse's own (one per
 * interface), in which traffic from a client's tunnel address passes only to what its policy
 * admits; anything else from it is dropped, whatever AllowedIPs its config was edited to. Sites and
 * other traffic are not touched. Replaced whole in one `nft -f` transaction at each change.
 */

const IP = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const BLOCK = /^\d{1,3}(?:\.\d{1,3}){3}\/\d{1,2}$/;

function check(v: string, re: RegExp, what: string): string {
  if (!re.test(v)) throw new Error(`nftables: ${what} ${v} is not an IPv4 address or block`);
  return v;
}

export const nftTableName = (iface: string) => `gatehouse_vpn_${iface.replace(/[^A-Za-z0-9_]/g, '_')}`;

/** The rules admitting what one client's policy allows (accept); the drop for it comes after. */
function clientRules(address: string, t: PolicyTargets): string[] {
  const a = check(address, IP, 'a client address');
  const out: string[] = [];
  const blocks = t.blocks.map((b) => check(b, BLOCK, 'a block'));
  if (blocks.length) {
    const set = `{ ${blocks.join(', ')} }`;
    if (!t.ports) out.push(`ip saddr ${a} ip daddr ${set} accept`);
    else if (t.ports.length) {
      const ports = `{ ${t.ports.map((p) => (p.from === p.to ? `${p.from}` : `${p.from}-${p.to}`)).join(', ')} }`;
      out.push(`ip saddr ${a} ip daddr ${set} tcp dport ${ports} accept`);
      out.push(`ip saddr ${a} ip daddr ${set} udp dport ${ports} accept`);
    }
  }
  for (const u of t.upstreams)
    out.push(`ip saddr ${a} ip daddr ${check(u.ip, IP, 'an upstream')} tcp dport ${Number(u.port)} accept`);
  return out;
}

/**
 * The whole table for `nft -f -`: made (if missing), emptied and filled in one transaction. Both the
 * server itself (input) and what it forwards (forward) are filtered; replies to connections the
 * server opened pass.
 */
export function renderClientTable(iface: string, section: TunnelSection | undefined): string {
  const table = nftTableName(iface);
  const clients = (section?.peers ?? []).filter(
    (p): p is typeof p & { targets: PolicyTargets } => p.targets !== undefined,
  );
  const rules = [
    'ct state established,related accept',
    ...clients.flatMap((c) => clientRules(c.address, c.targets)),
  ];
  if (clients.length) rules.push(`ip saddr { ${clients.map((c) => c.address).join(', ')} } drop`);
  const iif = `iifname "${iface}"`;
  const chain = (name: string, hook: string) =>
    [
      `  chain ${name} {`,
      `    type filter hook ${hook} priority filter - 5; policy accept;`,
      ...rules.map((r) => `    ${iif} ${r}`),
      '  }',
    ].join('\n');
  return [
    `table inet ${table} {}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    chain('input', 'input'),
    chain('forward', 'forward'),
    '}',
    '',
  ].join('\n');
}

/** Runs `nft ARGS` (with `input` on its stdin); rejects with nft's own message. */
export function nft(args: string[], input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile('nft', args, { timeout: 10_000 }, (err, _out, stderr) =>
      err ? reject(new Error(`nft: ${stderr.trim() || err.message}`)) : resolve(),
    );
    // EPIPE if nft exits before reading: its exit status is the error reported.
    child.stdin?.on('error', () => undefined);
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Sets the table for `section`'s clients (none: the table goes). */
export async function applyClientTable(iface: string, section: TunnelSection | undefined): Promise<void> {
  const hasClients = section?.peers.some((p) => p.targets !== undefined) ?? false;
  if (!hasClients) return removeClientTable(iface);
  await nft(['-f', '-'], renderClientTable(iface, section));
}

export async function removeClientTable(iface: string): Promise<void> {
  await nft(['delete', 'table', 'inet', nftTableName(iface)]).catch(() => undefined);
}
