import { vpnClientCreateSchema } from '../model/vpn-client.js';
import { body, create, inputSchema, pathParam, query, read, remove } from './openapi-build.js';

/** VPN clients (docs/vpn-clients.md). */
export function vpnClientPaths(): Record<string, object> {
  return {
    '/vpn/clients': {
      get: read('VPN clients: policy, tunnel address, expiry, last handshake and bytes', [
        'VPN clients',
        'VpnClientList',
      ]),
      post: create(
        'Add a VPN client: its WireGuard config (with its private key) is shown once; ?format=png: as a QR code',
        body(inputSchema(vpnClientCreateSchema)),
        ['Added', 'VpnClientAdded'],
        [query('format', 'string', 'json (default) or png: the config as a QR code image')],
      ),
    },
    '/vpn/clients/{name}': {
      delete: remove('Revoke a VPN client: the servers drop its peer at once', pathParam('name'), [
        'Revoked',
        'Revoked',
      ]),
    },
  };
}
