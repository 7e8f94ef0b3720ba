import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { NodeStore } from '../edge/nodes.js';
import { GatehouseError } from '../model/errors.js';
import {
  edgeTunnelSchema,
  siteCreateSchema,
  siteSyncSchema,
  siteUpdateSchema,
  type SiteView,
} from '../model/site.js';
import { slugSchema } from '../model/values.js';
import { TunnelStats } from '../vpn/stats.js';
import type { SiteStore } from '../vpn/store.js';
import { CONTROL_PLACEHOLDER } from './control-url.js';
import { parse } from './http-errors.js';
import type { SiteAdded, SiteList } from './views/index.js';

const nameParams = z.strictObject({ name: slugSchema });

/** Sites (admin) under /api/v1/sites: add (token and command shown once), list, change, remove. */
export async function siteRoutes(
  app: FastifyInstance,
  sites: SiteStore,
  tunnels: TunnelStats = new TunnelStats(),
  controlUrl = CONTROL_PLACEHOLDER,
): Promise<void> {
  // Each site with its tunnel as the edges report it: up, latency, handshake age, bytes (vpn/stats.ts).
  const withTunnel = (s: SiteView) => ({ ...s, tunnel: tunnels.site(s) });
  app.get('/sites', async () => ({ sites: (await sites.list()).map(withTunnel) }) satisfies SiteList);
  app.post('/sites', async (req, reply) => {
    const input = parse(siteCreateSchema, req.body, '');
    const added = await sites.add(input);
    const { token } = added;
    const site = withTunnel(added.site);
    const command = `gatehouse site connect --control ${controlUrl} --site-token ${token} ${site.name}`;
    return reply.code(201).send({ site, token, command } satisfies SiteAdded);
  });
  app.patch('/sites/:name', async (req) => {
    const { name } = parse(nameParams, req.params, 'params');
    const input = parse(siteUpdateSchema, req.body, '');
    return withTunnel(await sites.update(name, input));
  });
  app.delete('/sites/:name', async (req) => {
    const { name } = parse(nameParams, req.params, 'params');
    await sites.remove(name);
    return { deleted: name };
  });
}

/**
 * What the tunnel's two ends call with their own tokens: a public edge (node token) sends its
 * WireGuard public key and endpoint and gets its tunnel address; a site's connector (site token)
 * sends its public key and last handshake and gets the public edges to dial.
 */
export async function siteEdgeRoutes(
  app: FastifyInstance,
  sites: SiteStore,
  nodes: NodeStore,
): Promise<void> {
  app.post('/edge/v1/tunnel', async (req) => {
    const auth = await nodes.byBearer(req.headers.authorization);
    if (!auth) throw new GatehouseError('unauthorized', 'missing or wrong node token', 401);
    if (auth.node.role !== 'public')
      throw new GatehouseError(
        'not_public',
        `node ${auth.node.name} is a ${auth.node.role} edge: only public edges serve sites`,
        409,
      );
    const input = parse(edgeTunnelSchema, req.body, '');
    return sites.registerEdge(auth.node.name, input, req.ip);
  });
  app.post('/edge/v1/site/sync', async (req) => {
    const site = await sites.byBearer(req.headers.authorization);
    if (!site) throw new GatehouseError('unauthorized', 'missing or wrong site token', 401);
    const input = parse(siteSyncSchema, req.body, '');
    return sites.sync(site, input);
  });
}
