import { siteCreateSchema, siteUpdateSchema } from '../model/site.js';
import { body, create, inputSchema, op, pathParam, read, remove } from './openapi-build.js';

/** WireGuard sites (docs/sites.md). */
export function sitePaths(): Record<string, object> {
  return {
    '/sites': {
      get: read(
        'WireGuard sites: subnets, tunnel address, public key, last handshake, connected, and each tunnel as the edges report it (up, latency, handshake age, bytes, per edge)',
        ['Sites', 'SiteList'],
      ),
      post: create(
        'Add a site (its token and the command for the site machine are shown once)',
        body(inputSchema(siteCreateSchema)),
        ['Added', 'SiteAdded'],
      ),
    },
    '/sites/{name}': {
      patch: op({
        summary: 'Change a site: site-to-site on or off (edges and connectors follow within seconds)',
        parameters: [pathParam('name')],
        requestBody: body(inputSchema(siteUpdateSchema)),
        answers: { 200: ['Changed', 'SiteView'] },
      }),
      delete: remove('Remove a site: public edges drop its peer and routes', pathParam('name')),
    },
  };
}
