import { z } from 'zod';

/** A VPN client (docs/vpn-clients.md): its policy, tunnel address, expiry and what its server saw. */
export const vpnClientView = z.strictObject({
  name: z.string(),
  group: z.string().nullable(),
  policy: z.string(),
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

export type VpnClientList = z.infer<typeof vpnClientListView>;
export type VpnClientAdded = z.infer<typeof vpnClientAddedView>;
