import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { conflict, notFound } from '../model/errors.js';
import { slugSchema } from '../model/values.js';
import type { Database, Db } from '../store/db.js';
import { tunnelReportSchema } from '../vpn/stats.js';
import { tokenHash } from './transit.js';

export const nodeCreateSchema = z.strictObject({
  name: slugSchema,
  /** lan: serves every service to its LAN; public: only services exposed publicly. */
  role: z.enum(['public', 'lan']).default('public'),
});

export const nodeReportSchema = z.strictObject({
  applied_hash: z.string().regex(/^[0-9a-f]{64}$|^$/, 'a config hash'),
  /** Registry version of what it applied. */
  applied_version: z.number().int().min(0).default(0),
  error: z.string().max(1000).default(''),
  /** The agent's Gatehouse version. */
  version: z.string().max(40).default(''),
  /** Upstream servers its health checks find down, as `pool address`. */
  down: z.array(z.string().max(300)).max(10_000).default([]),
  /** The control URL it follows (an agent given several fails over between them). */
  control: z.string().max(300).default(''),
  /** A public edge with a tunnel: its peers' handshakes and bytes, its sites' probes (vpn/stats.ts). */
  tunnel: tunnelReportSchema.optional(),
});

export interface NodeView {
  name: string;
  role: string;
  created_at: string;
  last_seen: string | null;
  address: string;
  applied_hash: string;
  applied_version: number;
  last_error: string;
  version: string;
  down_servers: string[];
  /** Heard from within the last minute (an agent asks at least every 25 s). */
  online: boolean;
  /** The control URL the agent last reported it follows ('' before its first report). */
  control: string;
  /** The replica that took its last report ('' before it). */
  replica: string;
}

/** Where each node's last report went, kept in `meta` under this prefix + the node's name. */
const FOLLOWS_PREFIX = 'node-follows ';
const followsSchema = z.object({ control: z.string(), replica: z.string() });

/** A node is online while it keeps asking; its long-poll comes back every 25 s at the latest. */
export const ONLINE_MS = 60_000;

/** Edge nodes: enrolled with a one-time-shown token (stored as a hash), and what each reported. */
export class NodeStore {
  constructor(
    private readonly db: Db,
    /** This replica's id: recorded as the one each reporting node follows. */
    private readonly replica = '',
  ) {}

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
      token_hash: tokenHash(token),
      created_at: new Date().toISOString(),
      last_seen: null,
      address: '',
      applied_hash: '',
      last_error: '',
      agent_version: '',
      down_servers: '[]',
      applied_version: 0,
    };
    await this.db.insertInto('nodes').values(row).execute();
    return { node: view(row, undefined), token };
  }

  /**
   * A new token for a node: its hash replaces the old one, which is refused from now on. The agent
   * is started again with the new token (its transit key derives from the token's hash).
   */
  async rotateToken(name: string): Promise<{ node: NodeView; token: string }> {
    const token = randomBytes(24).toString('base64url');
    const r = await this.db
      .updateTable('nodes')
      .set({ token_hash: tokenHash(token) })
      .where('name', '=', name)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) throw notFound(`node ${name}`);
    const row = await this.db
      .selectFrom('nodes')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirstOrThrow();
    const follows = await this.db
      .selectFrom('meta')
      .select('value')
      .where('key', '=', `${FOLLOWS_PREFIX}${name}`)
      .executeTakeFirst();
    return { node: view(row, follows?.value), token };
  }

  async list(): Promise<NodeView[]> {
    const [rows, follows] = await Promise.all([
      this.db.selectFrom('nodes').selectAll().orderBy('name').execute(),
      this.db.selectFrom('meta').selectAll().where('key', 'like', `${FOLLOWS_PREFIX}%`).execute(),
    ]);
    const by = new Map(follows.map((f) => [f.key.slice(FOLLOWS_PREFIX.length), f.value]));
    return rows.map((r) => view(r, by.get(r.name)));
  }

  async remove(name: string): Promise<void> {
    const r = await this.db.deleteFrom('nodes').where('name', '=', name).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw notFound(`node ${name}`);
    await this.db.deleteFrom('meta').where('key', '=', `${FOLLOWS_PREFIX}${name}`).execute();
  }

  /** The node a token belongs to, if any (compared by its hash), with that hash (the transit key's root). */
  async byToken(token: string | undefined): Promise<{ node: NodeView; tokenHash: string } | undefined> {
    if (!token) return undefined;
    const row = await this.db
      .selectFrom('nodes')
      .selectAll()
      .where('token_hash', '=', tokenHash(token))
      .executeTakeFirst();
    return row ? { node: view(row, undefined), tokenHash: row.token_hash } : undefined;
  }

  /** The same from an `Authorization: Bearer` header. */
  async byBearer(header: string | undefined): Promise<{ node: NodeView; tokenHash: string } | undefined> {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    return m ? this.byToken(m[1]) : undefined;
  }

  async seen(name: string, address: string, report?: z.output<typeof nodeReportSchema>): Promise<void> {
    await this.db
      .updateTable('nodes')
      .set({
        last_seen: new Date().toISOString(),
        address,
        ...(report
          ? {
              applied_hash: report.applied_hash,
              applied_version: report.applied_version,
              last_error: report.error,
              agent_version: report.version,
              down_servers: JSON.stringify(report.down),
            }
          : {}),
      })
      .where('name', '=', name)
      .execute();
    if (!report) return;
    const value = JSON.stringify({ control: report.control, replica: this.replica });
    await this.db
      .insertInto('meta')
      .values({ key: `${FOLLOWS_PREFIX}${name}`, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
      .execute();
  }
}

function view(r: Database['nodes'], followsJson: string | undefined): NodeView {
  let follows = { control: '', replica: '' };
  try {
    follows = followsSchema.parse(JSON.parse(followsJson ?? '{"control":"","replica":""}'));
  } catch {
    // A damaged row only hides which replica it follows.
  }
  return {
    name: r.name,
    role: r.role,
    created_at: r.created_at,
    last_seen: r.last_seen,
    address: r.address,
    applied_hash: r.applied_hash,
    applied_version: r.applied_version,
    last_error: r.last_error,
    version: r.agent_version,
    down_servers: JSON.parse(r.down_servers) as string[],
    online: !!r.last_seen && Date.now() - Date.parse(r.last_seen) < ONLINE_MS,
    control: follows.control,
    replica: follows.replica,
  };
}
