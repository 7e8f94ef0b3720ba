import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { EdgeFeed } from '../edge/feed.js';
import { NodeStore } from '../edge/nodes.js';
import type { Gate } from '../gate/gate.js';
import { GatehouseError, invalid } from '../model/errors.js';
import type { Settings } from '../model/settings.js';
import { durationMs, slugSchema } from '../model/values.js';
import type { Logger } from '../observe/log.js';
import type { Db } from '../store/db.js';
import { rotateDataKey, rotateSessionKey } from '../store/rotate.js';
import type { Sealer } from '../store/secrets.js';
import { controlUrlOf } from './control-url.js';
import { parse } from './http-errors.js';
import { TokenCheck } from './tokens.js';
import { ROTATE_KINDS, type Rotated } from './views/rotate.js';

export type RotateKind = (typeof ROTATE_KINDS)[number];

export const rotateParamsSchema = z.strictObject({ kind: z.enum(ROTATE_KINDS) });

/** The body of POST /rotate/{kind}: what some kinds need (all optional for the others). */
export const rotateBodySchema = z.strictObject({
  /** node-token: the node whose token is replaced. */
  node: slugSchema.optional(),
  /** data-key, when the key comes from GATEHOUSE_SECRET: the new secret (the operator's to keep). */
  new_secret: z.string().min(16, 'at least 16 characters').max(1024).optional(),
});
export type RotateBody = z.output<typeof rotateBodySchema>;

export interface RotationDeps {
  settings: Settings;
  db: Db;
  sealer: Sealer;
  admin: TokenCheck;
  register: TokenCheck;
  gate: Gate;
  feed: EdgeFeed;
  log: Logger;
  /** Among replicas: tells the others a key was rotated here (they reload it from the store). */
  announce?: (what: 'session' | 'data') => void;
}

/** Where a token given in the settings comes from, for the refusal. */
const CONFIGURED = {
  'admin-token': 'admin_token in the config file or GATEHOUSE_ADMIN_TOKEN',
  'register-token': 'register_token in the config file or GATEHOUSE_REGISTER_TOKEN',
} as const;

/**
 * Secret rotation in a running Gatehouse (`gatehouse rotate KIND`): each new secret is in force when
 * the call returns. One rotation at a time (both API listeners share this object).
 */
export class Rotations {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly nodes: NodeStore;

  constructor(private readonly d: RotationDeps) {
    this.nodes = new NodeStore(d.db);
  }

  rotate(kind: RotateKind, body: RotateBody): Promise<Rotated> {
    const run = this.queue.then(
      () => this.now(kind, body),
      () => this.now(kind, body),
    );
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async now(kind: RotateKind, body: RotateBody): Promise<Rotated> {
    if (body.node !== undefined && kind !== 'node-token') throw invalid('node', 'only for node-token');
    if (body.new_secret !== undefined && kind !== 'data-key')
      throw invalid('new_secret', 'only for data-key');
    const { settings, log } = this.d;
    switch (kind) {
      case 'admin-token':
      case 'register-token': {
        const configured = kind === 'admin-token' ? settings.admin_token : settings.register_token;
        if (configured !== undefined)
          throw new GatehouseError(
            'configured',
            `the ${kind} is set in the settings (${CONFIGURED[kind]}): change it there and restart Gatehouse`,
            409,
          );
        const token = await TokenCheck.newStored(settings.data_dir, kind);
        (kind === 'admin-token' ? this.d.admin : this.d.register).useToken(token);
        log.info({ kind }, 'token rotated; the old one is refused from now on');
        return {
          kind,
          token,
          message:
            kind === 'admin-token'
              ? 'the old admin token is refused from now on; this one is shown only once'
              : 'the old registration token is refused from now on; give this one (shown only once) to every backend that registers',
        };
      }
      case 'node-token': {
        if (!body.node) throw invalid('node', 'required for node-token (the node whose token is replaced)');
        const { node, token } = await this.nodes.rotateToken(body.node);
        // Its long-poll wakes and is refused: the agent holding the old token hears so now.
        this.d.feed.signal();
        log.info({ node: node.name }, 'node token rotated; the old one is refused from now on');
        return {
          kind,
          node: node.name,
          token,
          command: `gatehouse edge --control ${controlUrlOf(settings)} --node-token ${token}`,
          message: `the old token of node ${node.name} is refused from now on: restart its agent with this one (shown only once)`,
        };
      }
      case 'session-key': {
        const graceMs = durationMs(settings.session_ttl);
        const { key, previous } = await rotateSessionKey(this.d.db, this.d.sealer, graceMs);
        await this.d.gate.useSessionKey(key, previous);
        // The other replicas read both keys from the store and switch too (src/replica-keys.ts).
        this.d.announce?.('session');
        const until = new Date(previous.until).toISOString();
        log.info({ previous_valid_until: until }, 'session key rotated');
        return {
          kind,
          previous_valid_until: until,
          message: `new sessions are signed with the new key; sessions made before stay valid until they are renewed (at the latest until ${until})`,
        };
      }
      case 'data-key': {
        const r = await rotateDataKey(this.d.db, this.d.sealer, {
          dataDir: settings.data_dir,
          currentSecret: settings.secret,
          newSecret: body.new_secret,
          nextSecret: settings.secret_next,
        });
        this.d.announce?.('data');
        log.info({ resealed: r.resealed, source: r.source }, 'data key rotated');
        return {
          kind,
          resealed: r.resealed,
          key_source: r.source,
          message:
            r.source === 'secret'
              ? `${r.resealed} secrets re-sealed under the new secret: set GATEHOUSE_SECRET to it before the next start (the old one no longer opens them); replicas holding it as GATEHOUSE_SECRET_NEXT switched to it, others answer 503 until restarted with it`
              : `${r.resealed} secrets re-sealed under a new data.key: back it up with the database (older backups keep the old key beside their data)`,
        };
      }
    }
  }
}

/** POST /api/v1/rotate/{kind} (admin only, as all of /api/v1; audited like every change). */
export async function rotateRoutes(app: FastifyInstance, rotations: Rotations): Promise<void> {
  app.post('/rotate/:kind', async (req) => {
    const { kind } = parse(rotateParamsSchema, req.params, 'params');
    const body = parse(rotateBodySchema, req.body ?? {}, '');
    return rotations.rotate(kind, body);
  });
}
