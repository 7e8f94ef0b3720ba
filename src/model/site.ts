import { z } from 'zod';
import { formatBlock, overlaps, parseBlock, type Block } from './ipv4-block.js';
import { slugSchema } from './values.js';

/**
 * Sites: a network behind NAT (a home, an office) whose connector dials out to the public edges
 * over WireGuard. Each side makes its own key pair; only public keys travel. The control plane
 * allocates tunnel addresses from `vpn_range` for public edges and sites alike.
 */

/** The default tunnel range: in the shared address space of RFC 6598 (CGNAT), not in RFC 1918's. */
export const DEFAULT_VPN_RANGE = '100.96.0.0/24';

/** An IPv4 block written as its network address (`192.168.1.0/24`, not `192.168.1.7/24`). */
export const ipv4BlockSchema = z.string().superRefine((s, ctx) => {
  const b = parseBlock(s);
  if (!b) ctx.addIssue({ code: 'custom', message: 'not an IPv4 CIDR block such as 192.168.1.0/24' });
  else if (!b.exact)
    ctx.addIssue({ code: 'custom', message: `not a network address (did you mean ${formatBlock(b)}?)` });
});

/** The tunnel range: room for edges and sites (a /30 at the smallest, a /16 at the largest). */
export const vpnRangeSchema = ipv4BlockSchema.refine((s) => {
  const bits = parseBlock(s)?.bits ?? 0;
  return bits >= 16 && bits <= 30;
}, 'a prefix from /16 to /30');

/** A WireGuard public key: 32 bytes, base64. */
export const wgKeySchema = z
  .string()
  .regex(/^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/, 'a WireGuard key (32 bytes in base64)');

export const siteCreateSchema = z.strictObject({
  name: slugSchema,
  /** The LAN blocks the site announces: the public edges route them through its tunnel. */
  subnets: z
    .array(ipv4BlockSchema)
    .max(64)
    .default([])
    .superRefine((subnets, ctx) => {
      const seen: { s: string; b: Block }[] = [];
      for (const [i, s] of subnets.entries()) {
        const b = parseBlock(s);
        if (!b) continue;
        const clash = seen.find((o) => overlaps(o.b, b));
        if (clash) ctx.addIssue({ code: 'custom', path: [i], message: `${s} overlaps ${clash.s}` });
        seen.push({ s, b });
      }
    }),
  /**
   * Site-to-site (least privilege: off unless asked): this site's LAN reaches the subnets of the
   * other sites that have it on, through the public edges, and theirs reach its.
   */
  site_to_site: z.boolean().default(false),
});
/** What `SiteStore.add` takes (site-to-site off when not given). */
export type SiteCreate = Omit<z.output<typeof siteCreateSchema>, 'site_to_site'> & { site_to_site?: boolean };

/** What a site's connector sends with its token: its public key and how its tunnel is doing. */
export const siteSyncSchema = z.strictObject({
  public_key: wgKeySchema,
  /** Its newest handshake with any public edge (Unix seconds; 0: none yet). */
  last_handshake: z.number().int().min(0).default(0),
});

/** What a public edge sends: its public key and where sites reach its WireGuard port. */
export const edgeTunnelSchema = z.strictObject({
  public_key: wgKeySchema,
  /** HOST:PORT sites dial; empty: the address the control plane sees the edge at, and `port`. */
  endpoint: z
    .string()
    .regex(/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/, 'HOST:PORT')
    .or(z.literal(''))
    .default(''),
  port: z.number().int().min(1).max(65535),
});

export interface SiteView {
  name: string;
  subnets: string[];
  /** Its tunnel address (allocated at `site add`). */
  address: string;
  /** '' until its connector first connects. */
  public_key: string;
  created_at: string;
  /** When its connector last asked for its config; null before it first did. */
  last_seen: string | null;
  /** The newest handshake its connector reported, ISO time; null before the first. */
  last_handshake: string | null;
  /** A handshake within the last 3 minutes (WireGuard renews one every 2 while traffic flows). */
  connected: boolean;
  /** Reaches (and is reached by) the other site-to-site sites' subnets through the public edges. */
  site_to_site: boolean;
}

/** `PATCH /api/v1/sites/NAME`: what can change on a site after `site add`. */
export const siteUpdateSchema = z.strictObject({
  site_to_site: z.boolean(),
});

/**
 * A site's subnets against the tunnel range and every other site's: the field at fault is named
 * (`subnets.N`), so `site add` says which block to change.
 */
export function subnetClashes(
  subnets: string[],
  range: string,
  others: { name: string; subnets: string[] }[],
): { field: string; message: string } | undefined {
  const r = parseBlock(range);
  for (const [i, s] of subnets.entries()) {
    const b = parseBlock(s);
    if (!b) continue;
    if (r && overlaps(b, r))
      return { field: `subnets.${i}`, message: `${s} overlaps the tunnel range ${range} (vpn_range)` };
    for (const o of others)
      for (const os of o.subnets) {
        const ob = parseBlock(os);
        if (ob && overlaps(b, ob))
          return { field: `subnets.${i}`, message: `${s} overlaps ${os} of site ${o.name}` };
      }
  }
  return undefined;
}
