import { z } from 'zod';

/** A VPN client (docs/vpn-clients.md): its policy, tunnel address, expiry and what its server saw. */
export const vpnClientView = z.strictObject({
  name: z.string(),
  group: z.string().nullable(),
  policy: z.string(),
  policy_from: z.enum(['client', 'group', 'default']),
  address: z.string(),
  public_key: z.string(),
  created_at: z.string(),
  expires_at: z.string().nullable(),
  expired: z.boolean(),
  last_handshake: z.string().nullable(),
  rx_bytes: z.number(),
  tx_bytes: z.number(),
});
export const vpnClientListView = z.strictObject({ clients: z.array(vpnClientView) });
/** POST /vpn/clients: the client and its WireGuard config (with its private key), shown this once. */
export const vpnClientAddedView = z.strictObject({ client: vpnClientView, config: z.string() });

/** A device group: the policy its clients without their own follow. */
export const vpnGroupView = z.strictObject({
  name: z.string(),
  policy: z.string(),
  clients: z.number(),
  created_at: z.string(),
});
export const vpnGroupListView = z.strictObject({ groups: z.array(vpnGroupView) });

export type VpnGroupView = z.infer<typeof vpnGroupView>;
export type VpnGroupList = z.infer<typeof vpnGroupListView>;
export type VpnClientList = z.infer<typeof vpnClientListView>;
export type VpnClientAdded = z.infer<typeof vpnClientAddedView>;
