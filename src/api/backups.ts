import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { GatehouseError, notFound } from '../model/errors.js';
import { BACKUP_NAME, backupServiceFor, type BackupService } from '../store/backup-schedule.js';
import type { ApiContext } from './context.js';
import { parse } from './http-errors.js';

const nameParams = z.object({ name: z.string().regex(BACKUP_NAME, 'a backup file name (gatehouse-….ghbk)') });

/** GET/POST /api/v1/backups, GET /api/v1/backups/:name (the file; admin only, as all /api/v1). */
export async function backupRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const svc = (): BackupService => {
    const s = backupServiceFor(ctx.settings);
    if (!s) throw new GatehouseError('backup_off', 'backups are not available in this process', 409);
    return s;
  };
  app.get('/backups', async () => ({ backups: svc().list(), last: svc().last ?? null }));
  app.post('/backups', async (_req, reply) => reply.code(201).send({ name: await svc().run() }));
  app.get('/backups/:name', async (req, reply) => {
    const { name } = parse(nameParams, req.params, 'params');
    const s = svc();
    if (!s.list().some((b) => b.name === name)) throw notFound(`backup ${name}`);
    return reply
      .header('content-type', 'application/octet-stream')
      .header('content-disposition', `attachment; filename="${name}"`)
      .send(createReadStream(join(s.dir, name)));
  });
}
