import { z } from 'zod';
import { slugSchema } from './values.js';

/**
 * VPN clients (Envoyage): a device (laptop, phone) with a WireGuard config the control plane made.
 * Its private key is in that config, shown once and never stored; the store keeps its public key,
 * tunnel address (from `vpn_range`), group, policy and expiry.
 */

/** What a client may reach through the server (enforced there, not only by its AllowedIPs). */
export type VpnPolicy =
  | { kind: 'full' }
  | { kind: 'services'; services: string[] }
  | { kind: 'ports'; ports: { from: number; to: number }[] };

/** An IPv4 upstream of a service: its address and port . */
export interface UpstreamAddr {
  ip: string;
  port: number;
}

/** What a policy admits: whole blocks (every port), address:port pairs, or ports on those blocks. */
export interface PolicyTargets {
  /** Blocks reachable on `ports` (all ports when `ports` is undefined). */
  blocks: string[];
  ports?: { from: number; to: number }[];
  /** Exact upstreams (policy `services:`). */
  upstreams: UpstreamAddr[];
}

const PORT = /^([0-9]{1,5})(?:-([0-9]{1,5}))?$/;

/** `full`, `services:a,b` or `ports:22,80,8000-8100` → the policy, or a message naming what is wrong. */
export function parsePolicy(text: string): VpnPolicy | string {
  if (text === 'full') return { kind: 'full' };
  const m = /^(services|ports):(.+)$/.exec(text);
  if (!m?.[1] || !m[2]) return 'full, services:NAME[,NAME…] or ports:PORT[,LOW-HIGH…]';
  const items = m[2].split(',').map((s) => s.trim());
  if (m[1] === 'services') {
    const bad = items.find((s) => !slugSchema.safeParse(s).success);
    if (bad !== undefined) return `services: ${bad || '(empty)'} is not a service name`;
    return { kind: 'services', services: [...new Set(items)].sort() };
  }
  const ports: { from: number; to: number }[] = [];
  for (const s of items) {
    const p = PORT.exec(s);
    const from = Number(p?.[1]);
    const to = p?.[2] === undefined ? from : Number(p[2]);
    if (!p || from < 1 || to > 65535 || to < from)
      return `ports: ${s || '(empty)'} is not a port or LOW-HIGH range`;
    ports.push({ from, to });
  }
  return { kind: 'ports', ports };
}

export function formatPolicy(p: VpnPolicy): string {
  if (p.kind === 'full') return 'full';
  if (p.kind === 'services') return `services:${p.services.join(',')}`;
  return `ports:${p.ports.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}-${r.to}`)).join(',')}`;
}

const UNIT_S = { m: 60, h: 3600, d: 86400 } as const;

/** `30d`, `12h`, `90m` → seconds; undefined: not such a duration. */
export function parseExpiry(text: string): number | undefined {
  const m = /^([1-9][0-9]{0,4})([mhd])$/.exec(text);
  return m?.[1] && m[2] ? Number(m[1]) * UNIT_S[m[2] as keyof typeof UNIT_S] : undefined;
}

/** A policy's text (`full`, `services:a,b`, `ports:22,80-90`), checked by parsePolicy. */
export const policyTextSchema = z.string().superRefine((s, ctx) => {
  const p = parsePolicy(s);
  if (typeof p === 'string') ctx.addIssue({ code: 'custom', message: p });
});

/** POST /api/v1/vpn/clients (and `gatehouse vpn client add`). */
export const vpnClientCreateSchema = z.strictObject({
  name: slugSchema,
  /** A device group (its policy is the client's when the client names none). */
  group: slugSchema.optional(),
  /** How long the client may connect (`30d`, `12h`, `90m`); absent: until revoked. */
  expires: z
    .string()
    .refine((s) => parseExpiry(s) !== undefined, 'a duration such as 30d, 12h or 90m (at most 99999)')
    .optional(),
  /** Its own policy; absent: its group's (followed when the group changes), else `full`. */
  policy: policyTextSchema.optional(),
  /** A DNS server the client's config names (an IPv4 address); absent: none. */
  dns: z.ipv4().optional(),
  /** The config carries wg-quick PostUp/PreDown nftables rules dropping what leaves outside the tunnel. */
  kill_switch: z.boolean().optional(),
});
export type VpnClientCreate = z.output<typeof vpnClientCreateSchema>;

/** POST /api/v1/vpn/groups (and `gatehouse vpn group add`): a device group and its policy. */
export const vpnGroupCreateSchema = z.strictObject({
  name: slugSchema,
  policy: policyTextSchema.default('full'),
});
export type VpnGroupCreate = z.output<typeof vpnGroupCreateSchema>;

/** PUT /api/v1/vpn/groups/NAME (and `gatehouse vpn group set`): its new policy. */
export const vpnGroupUpdateSchema = z.strictObject({ policy: policyTextSchema });

export interface VpnGroupView {
  name: string;
  policy: string;
  /** How many clients are in it (each follows its policy unless it has its own). */
  clients: number;
  created_at: string;
}

export interface VpnClientView {
  name: string;
  group: string | null;
  /** The policy in force: its own, or its group's. */
  policy: string;
  /** Where that policy comes from: the client's own, its group's, or the default (`full`). */
  policy_from: 'client' | 'group' | 'default';
  /** Its tunnel address in vpn_range. */
  address: string;
  public_key: string;
  created_at: string;
  /** null: until revoked. */
  expires_at: string | null;
  expired: boolean;
  /** What the control plane's own WireGuard server saw of it (null: never, or not served here). */
  last_handshake: string | null;
  rx_bytes: number;
  tx_bytes: number;
}
