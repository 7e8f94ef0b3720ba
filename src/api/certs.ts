import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { certUploadSchema } from '../model/cert.js';
import { isSet, parse, queryFlag } from './http-errors.js';
import { GatehouseError } from '../model/errors.js';
import { hostnameSchema } from '../model/values.js';
import type { ApiContext } from './context.js';
import type { CertList } from './views/index.js';

const idParams = z.strictObject({ id: z.uuid('a certificate id') });
const issueSchema = z.strictObject({ names: z.array(hostnameSchema).min(1).max(100) });
const waitQuery = z.strictObject({ wait: queryFlag });
const deleteQuery = z.strictObject({
  wait: queryFlag,
  revoke: queryFlag,
});

function acmeOn(ctx: ApiContext): NonNullable<ApiContext['certManager']> {
  if (!ctx.certManager) {
    throw new GatehouseError('acme_off', 'no ACME directory is configured (setting acme_directory)', 409);
  }
  return ctx.certManager;
}

/** A CA's refusal, or an unreachable CA, is the operator's to see: 502, not a server fault. */
async function viaCa<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof GatehouseError) throw err;
    throw new GatehouseError(
      'acme_failed',
      `the CA refused: ${err instanceof Error ? err.message : String(err)}`,
      502,
    );
  }
}

/** Certificates under /api/v1/certificates (keys go in, never out). */
export async function certRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { certs, edge } = ctx;
  app.get(
    '/certificates',
    async () =>
      ({
        certificates: await certs.list(),
        orders: [...(ctx.certManager?.orders.values() ?? [])],
        acme: !!ctx.certManager,
      }) satisfies CertList,
  );
  app.post('/certificates/issue', async (req, reply) => {
    const input = parse(issueSchema, req.body, '');
    if (!ctx.certManager) {
      throw new GatehouseError('acme_off', 'no ACME directory is configured (setting acme_directory)', 409);
    }
    let cert;
    try {
      cert = await ctx.certManager.issueNow(input.names);
    } catch (err) {
      if (err instanceof GatehouseError) throw err;
      // The CA's refusal or an unreachable CA: the operator's to see, not a server fault.
      throw new GatehouseError(
        'acme_failed',
        `the CA did not issue: ${err instanceof Error ? err.message : String(err)}`,
        502,
      );
    }
    await edge.refresh();
    return reply.code(201).send(cert);
  });
  app.post('/certificates', async (req, reply) => {
    const q = parse(waitQuery, req.query, 'query');
    const input = parse(certUploadSchema, req.body, '');
    const cert = await certs.upload(input.cert, input.key);
    if (isSet(q.wait)) await edge.refresh();
    return reply.code(201).send(cert);
  });
  app.post('/certificates/:id/renew', async (req, reply) => {
    const { id } = parse(idParams, req.params, 'params');
    const manager = acmeOn(ctx);
    const cert = await viaCa(() => manager.renew(id));
    await edge.refresh();
    return reply.code(201).send(cert);
  });
  app.delete('/certificates/:id', async (req) => {
    const { id } = parse(idParams, req.params, 'params');
    const q = parse(deleteQuery, req.query, 'query');
    if (isSet(q.revoke)) {
      const manager = acmeOn(ctx);
      await viaCa(() => manager.revoke(id));
    } else {
      await certs.remove(id);
    }
    if (isSet(q.wait)) await edge.refresh();
    return { deleted: id };
  });
}
