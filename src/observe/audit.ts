import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Db } from '../store/db.js';

/** How a request to the management API was authenticated. */
export type AuditVia = 'token' | 'session' | 'socket' | 'none';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the API's authentication hook. */
    via?: AuditVia;
  }
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  via: string;
  ip: string;
  method: string;
  /** The request's path without its query (bodies, which may hold secrets, are never kept). */
  path: string;
  status: number;
}

export const auditQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  /** Entries older than this id (the next page). */
  before: z.coerce.number().int().min(1).optional(),
  actor: z
    .string()
    .regex(/^[A-Za-z0-9._@:-]{1,64}$/, 'a user name')
    .optional(),
});
export type AuditQuery = z.output<typeof auditQuerySchema>;

/** Entries kept: the oldest go once there are more (checked every PRUNE_EVERY writes). */
const KEEP = 20_000;
const PRUNE_EVERY = 200;

/**
 * The audit log: every change made through the management API (and every refused attempt), with
 * who made it and from where. Reads, dry runs and bad input (which change nothing) are not kept.
 */
export class AuditLog {
  private writes = 0;
  constructor(private readonly db: Db) {}

  async record(e: Omit<AuditEntry, 'id'>): Promise<void> {
    await this.db.insertInto('audit').values(e).execute();
    if (++this.writes % PRUNE_EVERY === 0) {
      const edge = await this.db
        .selectFrom('audit')
        .select('id')
        .orderBy('id', 'desc')
        .offset(KEEP)
        .limit(1)
        .executeTakeFirst();
      if (edge) await this.db.deleteFrom('audit').where('id', '<=', edge.id).execute();
    }
  }

  async list(q: AuditQuery): Promise<AuditEntry[]> {
    let sel = this.db.selectFrom('audit').selectAll().orderBy('id', 'desc').limit(q.limit);
    if (q.before) sel = sel.where('id', '<', q.before);
    if (q.actor) sel = sel.where('actor', '=', q.actor);
    return sel.execute();
  }
}

/** Paths that are not changes made by an operator (node heartbeats, the event stream). */
function unaudited(req: FastifyRequest): boolean {
  const path = req.url.split('?')[0] ?? '';
  if (path.startsWith('/edge/')) return true;
  const q = req.query as Record<string, unknown> | undefined;
  const body = req.body as Record<string, unknown> | undefined;
  const dry = (v: unknown) => v === true || v === 'true' || v === '1';
  return dry(q?.dry_run) || (typeof body === 'object' && body !== null && dry(body.dry_run));
}

/** Keeps the audit log of `app`'s changes: adds an onResponse hook, recording after the answer. */
export function auditChanges(app: FastifyInstance, log: AuditLog, onError: (err: unknown) => void): void {
  app.addHook('onResponse', async (req, reply) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return;
    const status = reply.statusCode;
    // 400/404/409/429: bad input, nothing there, a conflict, throttled: nothing changed. Refusals
    // of who is asking (401, 403) are kept: they are what an audit is for.
    if (status >= 400 && status !== 401 && status !== 403) return;
    if (unaudited(req)) return;
    const signIn = (req.url.split('?')[0] ?? '') === '/api/v1/session' && req.method === 'POST';
    const claimed = signIn ? (req.body as { username?: unknown } | undefined)?.username : undefined;
    const actor =
      req.actor ??
      (typeof claimed === 'string'
        ? claimed.trim().toLowerCase().slice(0, 64)
        : req.via === 'token' || req.via === 'socket'
          ? 'admin'
          : '-');
    await log
      .record({
        at: new Date().toISOString(),
        actor,
        via: signIn ? 'session' : (req.via ?? 'none'),
        ip: req.ip,
        method: req.method,
        path: (req.url.split('?')[0] ?? '').slice(0, 300),
        status,
      })
      .catch(onError);
  });
}
