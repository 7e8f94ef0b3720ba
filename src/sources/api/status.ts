import type { FastifyInstance } from 'fastify';
import type { ApiContext } from './context.js';

export async function statusRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  app.get('/status', async () => {
    const edge = ctx.edge.getStatus();
    return {
      version: ctx.registry.version,
      services: ctx.registry.list().length,
      in_sync: edge.appliedVersion === ctx.registry.version && !edge.lastError,
      /** Stored services that no longer validate and are not served. */
      unloadable: ctx.registry.unloadable,
      edge,
    };
  });
}
