import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { compile } from '../compile/compile.js';
import { diffVersions, getVersion, listVersions, rollback, stateAt } from '../registry/snapshots.js';
import { parse } from './http-errors.js';
import type { ApiContext } from './context.js';
import type { Rollback, SnapshotDiff, SnapshotList, SnapshotView } from './views/index.js';

/** A version number as URL text: decimal digits only (`z.coerce` would read "", " " or "0x10" too). */
const versionText = z
  .string()
  .regex(/^[0-9]{1,15}$/, 'a whole number')
  .transform(Number);
const versionParams = z.strictObject({ version: versionText });
const listQuery = z.strictObject({
  limit: versionText.pipe(z.number().min(1).max(1000)).default(50),
  before: versionText.pipe(z.number().min(1)).optional(),
});
const diffQuery = z.strictObject({ from: versionText, to: versionText.optional() });
const rollbackBody = z
  .strictObject({ force: z.boolean().optional(), wait: z.boolean().optional() })
  .default({});

/** Snapshots: every registry version, its compiled config, diffs, and rollback. */
export async function snapshotRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { registry } = ctx;

  app.get('/snapshots', async (req) => {
    const q = parse(listQuery, req.query, 'query');
    return {
      version: registry.version,
      snapshots: await listVersions(registry, q.limit, q.before),
    } satisfies SnapshotList;
  });

  app.get('/snapshots/diff', async (req) => {
    const q = parse(diffQuery, req.query, 'query');
    const to = q.to ?? registry.version;
    return { from: q.from, to, changes: await diffVersions(registry, q.from, to) } satisfies SnapshotDiff;
  });

  app.get('/snapshots/:version', async (req) => {
    const { version } = parse(versionParams, req.params, 'params');
    const info = version === 0 ? undefined : await getVersion(registry, version);
    const state = await stateAt(registry, version);
    const services = [...state.values()].sort((a, b) => a.service.name.localeCompare(b.service.name));
    const config = compile({
      services: services.map((s) => s.service),
      listeners: { http: ctx.settings.http_port, https: ctx.settings.https_port },
    });
    return {
      snapshot: info ?? { version: 0 as const },
      hash: config.hash,
      services,
      config,
    } satisfies SnapshotView;
  });

  app.post('/snapshots/:version/rollback', async (req) => {
    const { version } = parse(versionParams, req.params, 'params');
    const body = parse(rollbackBody, req.body ?? {}, 'body');
    const res = await rollback(registry, version, {
      actor: req.actor ?? 'admin',
      source: 'api',
      force: body.force,
    });
    const applied = await ctx.maybeWait(res.version, body.wait ? 'true' : undefined);
    return { restored: version, version: res.version, changed: res.changed, ...applied } satisfies Rollback;
  });
}
