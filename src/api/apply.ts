import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { applyEdgeFile } from '../sources/file/apply.js';
import { fileOwnerSchema, parseEdgeFile } from '../sources/file/document.js';
import { parse } from './http-errors.js';
import type { ApiContext } from './context.js';
import type { ApplyReport } from './views/index.js';

const applyBodySchema = z.strictObject({
  /** The file's name: what its records are owned by (removing them from the file removes them). */
  owner: fileOwnerSchema,
  /** The file's text (YAML or JSON). */
  document: z.string().max(16 * 1024 * 1024),
  dry_run: z.boolean().default(false),
});

/** POST /api/v1/apply: an edge file applied as one change, or (dry run) the diff it would make. */
export async function applyRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  app.post('/apply', { bodyLimit: 16 * 1024 * 1024 }, async (req) => {
    const body = parse(applyBodySchema, req.body, '');
    const doc = parseEdgeFile(body.document, 'document');
    if (body.dry_run) req.auditSkip = true;
    const report = await applyEdgeFile(
      {
        registry: ctx.registry,
        users: ctx.gate.users,
        db: ctx.registry.db,
        templates: ctx.fileTemplates,
        baseTemplates: ctx.baseTemplates,
      },
      doc,
      body.owner,
      { dryRun: body.dry_run },
    );
    const applied =
      report.dry_run || report.services.length === 0 ? {} : await ctx.maybeWait(report.version, 'true');
    return { ...report, ...applied } satisfies ApplyReport;
  });
}
