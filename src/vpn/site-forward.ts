import { writeFile } from 'node:fs/promises';
import type { TunnelSection } from '../compile/edge-config.js';
import { nft } from './clients-nft.js';

/**
 * Site-to-site on a public edge (the hub): it forwards between its WireGuard peers, in at its
 * interface and out at the same, for the sites that have site-to-site on, and only between their
 * subnets. An nftables table of its own per interface: traffic from any site's subnet to another
 * site's subnet passes only when both ends are site-to-site subnets; everything else through the
 * tunnel (VPN clients and their replies, the edge's own connections) is left to the other tables. IPv4 forwarding is turned
 * on while a site has it on.
 */

const BLOCK = /^\d{1,3}(?:\.\d{1,3}){3}\/\d{1,2}$/;

export const siteForwardTable = (iface: string) => `gatehouse_s2s_${iface.replace(/[^A-Za-z0-9_]/g, '_')}`;

function blocks(list: string[]): string {
  for (const b of list) if (!BLOCK.test(b)) throw new Error(`nftables: ${b} is not an IPv4 block`);
  return `{ ${[...new Set(list)].sort().join(', ')} }`;
}

/** The whole table for `nft -f -` (made, emptied and filled in one transaction); '' when none is needed. */
export function renderSiteForwardTable(iface: string, section: TunnelSection | undefined): string {
  const sites = (section?.peers ?? []).filter((p) => p.targets === undefined && p.subnets.length);
  const s2s = sites.filter((p) => p.siteToSite).flatMap((p) => p.subnets);
  if (s2s.length === 0) return '';
  const all = blocks(sites.flatMap((p) => p.subnets));
  const on = blocks(s2s);
  const table = siteForwardTable(iface);
  const io = `iifname "${iface}" oifname "${iface}"`;
  return [
    `table ip ${table} {}`,
    `delete table ip ${table}`,
    `table ip ${table} {`,
    '  chain forward {',
    '    type filter hook forward priority filter - 4; policy accept;',
    `    ${io} ip saddr ${on} ip daddr ${on} accept`,
    `    ${io} ip daddr ${all} ip saddr ${all} drop`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Sets the forwarding between site-to-site sites for `section` (none: the table goes). */
export async function applySiteForward(iface: string, section: TunnelSection | undefined): Promise<void> {
  const text = renderSiteForwardTable(iface, section);
  if (!text) return removeSiteForward(iface);
  await writeFile('/proc/sys/net/ipv4/ip_forward', '1\n');
  await nft(['-f', '-'], text);
}

export async function removeSiteForward(iface: string): Promise<void> {
  await nft(['delete', 'table', 'ip', siteForwardTable(iface)]).catch(() => undefined);
}
