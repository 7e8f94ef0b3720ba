import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { conflict, notFound } from '../model/errors.js';
import {
  groupCreateSchema,
  groupNameSchema,
  userCreateSchema,
  usernameSchema,
  userUpdateSchema,
} from '../model/identity.js';
import { parse } from './http-errors.js';
import type { ApiContext } from './context.js';
import type { EventList, EventSummary, SessionList, TotpOff } from './views/index.js';

const userParams = z.strictObject({ username: usernameSchema });
const groupParams = z.strictObject({ name: groupNameSchema });
const sessionParams = z.strictObject({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a session id') });
const sessionQuery = z.strictObject({ user: usernameSchema.optional() });
const summaryQuery = z.strictObject({
  hours: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 90)
    .default(24),
});
const eventsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  kind: z
    .string()
    .regex(/^[a-z_]{1,32}$/)
    .optional(),
});

/** Users, groups, sessions and security events under /api/v1. */
export async function userRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { gate } = ctx;
  const users = gate.users;

  app.get('/users', async () => ({ users: await users.list() }));
  app.get('/users/:username', async (req) => {
    const { username } = parse(userParams, req.params, 'params');
    return users.get(username);
  });
  app.post('/users', async (req, reply) => {
    const input = parse(userCreateSchema, req.body, '');
    const user = await users.create(input);
    await gate.refreshAvailability();
    return reply.code(201).send(user);
  });
  /**
   * Only admin users sign in to the web UI: the operator's API keeps one enabled (the admin token
   * still works either way). Edge files manage their users as they say, unchecked.
   */
  const keepAnAdmin = async (username: string, after: { role?: string; disabled?: boolean } | 'removed') => {
    const db = gate.opts.db;
    const target = await db
      .selectFrom('users')
      .select(['username', 'role', 'disabled'])
      .where('username', '=', username.toLowerCase())
      .executeTakeFirst();
    if (!target || target.role !== 'admin' || target.disabled) return;
    const stays =
      after !== 'removed' && (after.role ?? target.role) === 'admin' && !(after.disabled ?? false);
    if (stays) return;
    const others = await db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('role', '=', 'admin')
      .where('disabled', '=', 0)
      .where('username', '!=', target.username)
      .executeTakeFirst();
    if (Number(others?.n ?? 0) > 0) return;
    throw conflict(
      after === 'removed'
        ? 'username'
        : after.role !== undefined && after.role !== 'admin'
          ? 'role'
          : 'disabled',
      `${target.username} is the last enabled admin user (the only one who can sign in to the web UI); make another user admin first`,
    );
  };
  app.patch('/users/:username', async (req) => {
    const { username } = parse(userParams, req.params, 'params');
    const input = parse(userUpdateSchema, req.body, '');
    await keepAnAdmin(username, input);
    return users.update(username, input);
  });
  app.delete('/users/:username', async (req) => {
    const { username } = parse(userParams, req.params, 'params');
    await keepAnAdmin(username, 'removed');
    await users.remove(username);
    return { deleted: username };
  });

  app.post('/users/:username/totp', async (req, reply) => {
    const { username } = parse(userParams, req.params, 'params');
    return reply.code(201).send(await gate.enrolTotp(username));
  });
  app.delete('/users/:username/totp', async (req) => {
    const { username } = parse(userParams, req.params, 'params');
    await gate.removeTotp(username);
    return { username, totp: false } satisfies TotpOff;
  });

  app.get('/groups', async () => ({ groups: await users.listGroups() }));
  app.post('/groups', async (req, reply) => {
    const input = parse(groupCreateSchema, req.body, '');
    return reply.code(201).send(await users.createGroup(input));
  });
  app.delete('/groups/:name', async (req) => {
    const { name } = parse(groupParams, req.params, 'params');
    await users.removeGroup(name);
    return { deleted: name };
  });

  app.get('/sessions', async (req) => {
    const q = parse(sessionQuery, req.query, 'query');
    const uid = q.user ? (await users.get(q.user)).id : undefined;
    const rows = await gate.sessions.list(uid);
    const names = new Map((await users.list()).map((u) => [u.id, u.username]));
    return {
      sessions: rows.map((r) => ({
        id: r.id,
        user_id: r.user_id,
        username: names.get(r.user_id) ?? '',
        created_at: r.created_at,
        expires_at: r.expires_at,
        ip: r.ip,
        user_agent: r.user_agent,
        via: r.via,
      })),
    } satisfies SessionList;
  });
  app.delete('/sessions/:id', async (req) => {
    const { id } = parse(sessionParams, req.params, 'params');
    if (!(await gate.sessions.revoke(id))) throw notFound(`session ${id}`);
    await gate.event('session_revoked', '', '', id);
    return { revoked: id };
  });

  app.get('/events', async (req) => {
    const q = parse(eventsQuery, req.query, 'query');
    let sel = gate.opts.db.selectFrom('events').selectAll().orderBy('id', 'desc').limit(q.limit);
    if (q.kind) sel = sel.where('kind', '=', q.kind);
    return { events: await sel.execute(), counts: Object.fromEntries(gate.counts) } satisfies EventList;
  });

  // Counted in the store, so an attack's thousands of denials are all counted, not a page of them.
  app.get('/events/summary', async (req) => {
    const q = parse(summaryQuery, req.query, 'query');
    const since = new Date(Date.now() - q.hours * 3_600_000).toISOString();
    const rows = await gate.opts.db
      .selectFrom('events')
      .select(['kind', (eb) => eb.fn.countAll<number>().as('n')])
      .where('at', '>=', since)
      .groupBy('kind')
      .execute();
    return {
      since,
      counts: Object.fromEntries(rows.map((r) => [r.kind, Number(r.n)])),
    } satisfies EventSummary;
  });
}
