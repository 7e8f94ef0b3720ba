import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { invalid, notFound } from '../model/errors.js';
import { serviceSchema, type ServiceRecord } from '../model/service.js';
import { serviceDiff } from '../registry/snapshots.js';
import { summarizeService, type ServiceFacts } from '../model/summary.js';
import { slugSchema } from '../model/values.js';
import { isSet, parse, queryFlag } from './http-errors.js';
import type { ApiContext } from './context.js';
import type {
  ServiceDelete,
  ServiceDryRun,
  ServiceList,
  ServiceRecordView,
  ServiceWrite,
} from './views/index.js';

const nameParams = z.strictObject({ name: slugSchema });
const writeQuery = z.strictObject({ force: queryFlag, wait: queryFlag });
const putQuery = z.strictObject({
  force: queryFlag,
  wait: queryFlag,
  /** Check the change in full (schema, claims, ownership, ports) and answer its diff; write nothing. */
  dry_run: queryFlag,
  /**
   * The `meta.updated_at` the writer last read: if the service changed since (or is gone), the
   * write is refused with 409 instead of overwriting someone else's change. `absent` = must not exist.
   */
  if_updated_at: z.union([z.iso.datetime(), z.literal('absent')]).optional(),
});

export function view(rec: ServiceRecord): ServiceRecordView {
  return { service: rec.service, meta: rec.meta };
}

/** What a service's summary needs beyond its definition: certificates in service, health. */
async function serviceFacts(ctx: ApiContext): Promise<ServiceFacts> {
  const now = new Date().toISOString();
  const certs = (await ctx.certs.list()).filter((c) => c.notAfter > now);
  const edge = ctx.edge.getStatus();
  return {
    certNames: certs.flatMap((c) => c.names),
    httpsListener: ctx.settings.https_port > 0,
    down: edge.downServers,
    failing: edge.failingServers,
    checked: edge.checkedServers,
  };
}

/** Services CRUD under /api/v1/services. */
export async function servicesRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { registry } = ctx;
  const actor = (req: FastifyRequest) => req.actor ?? 'admin';

  app.get('/services', async () => {
    const facts = await serviceFacts(ctx);
    return {
      version: registry.version,
      // Each with its summary (access, upstreams, HTTPS, state): what `service ls` and the UI show.
      services: registry.list().map((r) => ({ ...view(r), summary: summarizeService(r.service, facts) })),
    } satisfies ServiceList;
  });

  app.get('/services/:name', async (req) => {
    const { name } = parse(nameParams, req.params, 'params');
    const rec = registry.get(name);
    if (!rec) throw notFound(`service ${name}`);
    return view(rec);
  });

  app.post('/services', async (req, reply) => {
    const q = parse(writeQuery, req.query, 'query');
    const res = await registry.put(req.body, { actor: actor(req), source: 'api' }, { create: true });
    // Read now: a later write (even a delete) may land while we wait for the proxy.
    const rec = registry.get(res.name) as ServiceRecord;
    const applied = await ctx.maybeWait(res.version, q.wait);
    return reply.code(201).send({ ...view(rec), version: res.version, ...applied } satisfies ServiceWrite);
  });

  app.put('/services/:name', async (req, reply) => {
    const { name } = parse(nameParams, req.params, 'params');
    const q = parse(putQuery, req.query, 'query');
    const body = req.body;
    if (body && typeof body === 'object' && !Array.isArray(body)) {
      const given = (body as { name?: unknown }).name;
      if (given !== undefined && given !== name) throw invalid('name', `must match the URL (${name})`);
    }
    const input = body && typeof body === 'object' && !Array.isArray(body) ? { ...body, name } : body;
    const before = registry.get(name);
    const guard = q.if_updated_at ? { ifUpdatedAt: q.if_updated_at } : {};
    const meta = { actor: actor(req), source: 'api' as const, force: isSet(q.force) };
    if (isSet(q.dry_run)) {
      req.auditSkip = true;
      const res = await registry.put(input, { ...meta, dryRun: true }, guard);
      const after = serviceSchema.parse(input);
      const diff = res.changed.length
        ? serviceDiff(name, before?.service, after, `${name} (now)`, `${name} (edited)`)
        : undefined;
      return { dry_run: true, name, changes: diff ? [diff] : [], service: after } satisfies ServiceDryRun;
    }
    const res = await registry.put(input, meta, guard);
    const rec = registry.get(name) as ServiceRecord;
    const applied = await ctx.maybeWait(res.version, q.wait);
    return reply
      .code(res.created.length > 0 ? 201 : 200)
      .send({ ...view(rec), version: res.version, ...applied } satisfies ServiceWrite);
  });

  app.delete('/services/:name', async (req) => {
    const { name } = parse(nameParams, req.params, 'params');
    const q = parse(writeQuery, req.query, 'query');
    const res = await registry.remove(name, { actor: actor(req), source: 'api', force: isSet(q.force) });
    const applied = await ctx.maybeWait(res.version, q.wait);
    return { deleted: name, version: res.version, ...applied } satisfies ServiceDelete;
  });
}
