import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Db } from '../store/db.js';

/** How a request to the management API was authenticated. */
export type AuditVia = 'token' | 'session' | 'socket' | 'none';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the API's authentication hook. */
    via?: AuditVia;
    /** Set by a handler that changed nothing although it answered 2xx (a dry run, a no-op sign-out). */
    auditSkip?: boolean;
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

/** The header the CLI names its user id in, over the local socket only. */
export const CLI_UID_HEADER = 'x-gatehouse-cli-uid';

/**
 * The actor of a change made over the local socket: `cli:uid<N>`. The socket is mode 0600, so only
 * its owner (or root) can connect at all; the uid the CLI states is kept as what it says it is.
 */
export function socketActor(uid: string | string[] | undefined): string {
  return typeof uid === 'string' && /^[0-9]{1,10}$/.test(uid) ? `cli:uid${uid}` : 'cli';
}

/** Refusals (401/403) kept per address and minute: guessing tokens must not push history out. */
const REFUSALS_PER_MINUTE = 10;

/**
 * Keeps the audit log of `app`'s changes: adds an onSend hook, recording before the answer leaves
 * (a client that reads the audit log right after a change finds it there).
 * Kept: every answered change (2xx), every failure after a change may have been made (5xx: e.g.
 * written, but nginx did not take it in time), and refusals of who is asking (401/403, a few a
 * minute per address). Not kept: 400/404/409/429 (bad input, nothing there, a conflict, throttled:
 * nothing changed) and what a handler marks as changing nothing (dry runs).
 */
export function auditChanges(
  app: FastifyInstance,
  log: AuditLog,
  onError: (err: unknown, entry: Omit<AuditEntry, 'id'>) => void,
): void {
  const refusals = new Map<string, number>();
  let minute = 0;
  app.addHook('onSend', async (req, reply, payload) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return payload;
    const status = reply.statusCode;
    const refused = status === 401 || status === 403;
    if (status >= 400 && status < 500 && !refused) return payload;
    if (req.auditSkip && !refused) return payload;
    if (refused) {
      const now = Math.floor(Date.now() / 60_000);
      if (now !== minute) {
        minute = now;
        refusals.clear();
      }
      const n = (refusals.get(req.ip) ?? 0) + 1;
      refusals.set(req.ip, n);
      if (n > REFUSALS_PER_MINUTE) return payload;
    }
    // Only a verified identity is an actor: a refused sign-in's claimed name is not (the security
    // events keep it), so nobody can put entries in someone else's name.
    const actor = req.actor ?? (req.via === 'token' || req.via === 'socket' ? 'admin' : '-');
    const entry = {
      at: new Date().toISOString(),
      actor,
      via: req.via ?? 'none',
      // The unix socket has no peer address (req.ip is undefined there): "local".
      ip: req.via === 'socket' ? 'local' : req.ip || '-',
      method: req.method,
      path: (req.url.split('?')[0] ?? '').slice(0, 300),
      status,
    };
    await log.record(entry).catch((err: unknown) => onError(err, entry));
    return payload;
  });
}
