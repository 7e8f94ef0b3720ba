import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { slugSchema } from '../model/values.js';
import { vpnClientCreateSchema, vpnGroupCreateSchema, vpnGroupUpdateSchema } from '../model/vpn-client.js';
import type { VpnClientStore } from '../vpn/clients.js';
import { loadQr } from '../gate/totp.js';
import { parse } from './http-errors.js';
import type { VpnClientAdded, VpnClientList, VpnGroupList, VpnGroupView } from './views/index.js';

const nameParams = z.strictObject({ name: slugSchema });
const createQuery = z.strictObject({ format: z.enum(['json', 'png']).default('json') });

/**
 * VPN clients (admin) under /api/v1/vpn/clients: add (the config shown once, as JSON or as a QR
 * code PNG with `?format=png`), list (handshake, bytes, expiry), revoke; and their device groups
 * under /api/v1/vpn/groups (add, list, set the policy, remove).
 */
export async function vpnClientRoutes(app: FastifyInstance, clients: VpnClientStore): Promise<void> {
  app.get('/vpn/clients', async () => ({ clients: await clients.list() }) satisfies VpnClientList);
  app.post('/vpn/clients', async (req, reply) => {
    const { format } = parse(createQuery, req.query, 'query');
    const input = parse(vpnClientCreateSchema, req.body, '');
    const added = await clients.add(input);
    if (format === 'png') {
      const png = await (
        await loadQr()
      ).toBuffer(added.config, { type: 'png', errorCorrectionLevel: 'M', margin: 2 });
      return reply
        .code(201)
        .header('content-type', 'image/png')
        .header('cache-control', 'no-store')
        .header('x-gatehouse-vpn-address', added.client.address)
        .send(png);
    }
    return reply
      .code(201)
      .header('cache-control', 'no-store')
      .send(added satisfies VpnClientAdded);
  });
  app.delete('/vpn/clients/:name', async (req) => {
    const { name } = parse(nameParams, req.params, 'params');
    await clients.revoke(name);
    return { revoked: name };
  });
  app.get('/vpn/groups', async () => ({ groups: await clients.groups.list() }) satisfies VpnGroupList);
  app.post('/vpn/groups', async (req, reply) => {
    const input = parse(vpnGroupCreateSchema, req.body, '');
    return reply.code(201).send((await clients.groups.add(input)) satisfies VpnGroupView);
  });
  app.put('/vpn/groups/:name', async (req) => {
    const { name } = parse(nameParams, req.params, 'params');
    const { policy } = parse(vpnGroupUpdateSchema, req.body, '');
    return (await clients.groups.set(name, policy)) satisfies VpnGroupView;
  });
  app.delete('/vpn/groups/:name', async (req) => {
    const { name } = parse(nameParams, req.params, 'params');
    await clients.groups.remove(name);
    return { deleted: name };
  });
}
