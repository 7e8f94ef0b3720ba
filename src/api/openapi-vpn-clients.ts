import { vpnClientCreateSchema, vpnGroupCreateSchema, vpnGroupUpdateSchema } from '../model/vpn-client.js';
import { body, create, inputSchema, op, pathParam, query, read, remove } from './openapi-build.js';

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
    '/vpn/groups': {
      get: read('Device groups: the policy each carries and how many clients are in it', [
        'Device groups',
        'VpnGroupList',
      ]),
      post: create(
        'Add a device group with a policy (its clients without their own policy follow it)',
        body(inputSchema(vpnGroupCreateSchema)),
        ['Added', 'VpnGroupView'],
      ),
    },
    '/vpn/groups/{name}': {
      put: op({
        summary: "Set a group's policy: the servers' rules for every member without its own change at once",
        parameters: [pathParam('name')],
        requestBody: body(inputSchema(vpnGroupUpdateSchema)),
        answers: { 200: ['The group', 'VpnGroupView'] },
      }),
      delete: remove('Remove a device group (409 naming group while clients are in it)', pathParam('name')),
    },
  };
}
