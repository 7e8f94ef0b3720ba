import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { conflict, notFound } from '../model/errors.js';
import { slugSchema } from '../model/values.js';
import type { Database, Db } from '../store/db.js';

export const nodeCreateSchema = z.strictObject({
  name: slugSchema,
  /** lan: serves every service to its LAN; public: (with `expose`, later) only public ones. */
  role: z.enum(['public', 'lan']).default('public'),
});

export const nodeReportSchema = z.strictObject({
  applied_hash: z.string().regex(/^[0-9a-f]{64}$|^$/, 'a config hash'),
  error: z.string().max(1000).default(''),
});

export interface NodeView {
  name: string;
  role: string;
  created_at: string;
  last_seen: string | null;
  address: string;
  applied_hash: string;
  last_error: string;
}

function hash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Edge nodes: enrolled with a one-time-shown token (stored as a hash), and what each reported. */
export class NodeStore {
  constructor(private readonly db: Db) {}

  async add(input: z.output<typeof nodeCreateSchema>): Promise<{ node: NodeView; token: string }> {
    const exists = await this.db
      .selectFrom('nodes')
      .select('name')
      .where('name', '=', input.name)
      .executeTakeFirst();
    if (exists) throw conflict('name', `node ${input.name} exists`);
    const token = randomBytes(24).toString('base64url');
    const row: Database['nodes'] = {
      name: input.name,
      role: input.role,
      token_hash: hash(token),
      created_at: new Date().toISOString(),
      last_seen: null,
      address: '',
      applied_hash: '',
      last_error: '',
    };
    await this.db.insertInto('nodes').values(row).execute();
    return { node: view(row), token };
  }

  async list(): Promise<NodeView[]> {
    return (await this.db.selectFrom('nodes').selectAll().orderBy('name').execute()).map(view);
  }

  async remove(name: string): Promise<void> {
    const r = await this.db.deleteFrom('nodes').where('name', '=', name).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw notFound(`node ${name}`);
  }

  /** The node a bearer token belongs to, if any (the token is compared by its hash). */
  async byToken(header: string | undefined): Promise<NodeView | undefined> {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!m) return undefined;
    const row = await this.db
      .selectFrom('nodes')
      .selectAll()
      .where('token_hash', '=', hash(m[1] as string))
      .executeTakeFirst();
    return row ? view(row) : undefined;
  }

  async seen(name: string, address: string, report?: z.output<typeof nodeReportSchema>): Promise<void> {
    await this.db
      .updateTable('nodes')
      .set({
        last_seen: new Date().toISOString(),
        address,
        ...(report ? { applied_hash: report.applied_hash, last_error: report.error } : {}),
      })
      .where('name', '=', name)
      .execute();
  }
}

function view(r: Database['nodes']): NodeView {
  return {
    name: r.name,
    role: r.role,
    created_at: r.created_at,
    last_seen: r.last_seen,
    address: r.address,
    applied_hash: r.applied_hash,
    last_error: r.last_error,
  };
}
