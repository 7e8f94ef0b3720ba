import { sql } from 'kysely';
import { hash, verify } from '@node-rs/argon2';
import { randomUUID } from 'node:crypto';
import { conflict, invalid, notFound } from '../model/errors.js';
import type { GroupCreate, Identity, Role, UserCreate, UserUpdate, UserView } from '../model/identity.js';
import type { Db, Database } from '../store/db.js';

type UserRow = Database['users'];

/** argon2id with the library's defaults (19 MiB, 2 passes): OWASP's recommended minimum. */
export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

/** A hash that no password matches, so that an unknown user costs as much time as a known one. */
let dummyHash: Promise<string> | undefined;

export async function checkPassword(stored: string | null, password: string): Promise<boolean> {
  dummyHash ??= hashPassword('gatehouse-dummy-password');
  try {
    return await verify(stored ?? (await dummyHash), password);
  } catch {
    return false;
  }
}

/** Called when a user's sessions must stop working as they are (disabled, removed, groups changed). */
export type IdentityChanged = (userId: string, reason: 'changed' | 'removed' | 'revoked') => Promise<void>;

/** Users and groups in the registry database. */
export class UserStore {
  constructor(
    private readonly db: Db,
    private readonly changed: IdentityChanged,
  ) {}

  /** `managedBy`: the edge file that manages the user (see the file source). */
  async create(input: UserCreate, managedBy = ''): Promise<UserView> {
    if (await this.row(input.username)) throw conflict('username', `user ${input.username} exists`);
    await this.requireGroups(input.groups);
    const now = new Date().toISOString();
    const id = randomUUID();
    const passwordHash = input.password ? await hashPassword(input.password) : null;
    await this.db.transaction().execute(async (tx) => {
      await tx
        .insertInto('users')
        .values({
          id,
          username: input.username,
          email: input.email,
          name: input.name,
          first_name: input.first_name,
          last_name: input.last_name,
          role: input.role,
          password_hash: passwordHash,
          totp_secret: null,
          recovery_codes: '[]',
          totp_last_step: -1,
          managed_by: managedBy,
          disabled: 0,
          created_at: now,
          updated_at: now,
        })
        .execute();
      for (const g of new Set(input.groups))
        await tx.insertInto('user_groups').values({ user_id: id, group_name: g }).execute();
    });
    return this.get(input.username);
  }

  async list(): Promise<UserView[]> {
    const rows = await this.db.selectFrom('users').selectAll().orderBy('username').execute();
    const memberships = await this.db.selectFrom('user_groups').selectAll().execute();
    return rows.map((r) =>
      view(
        r,
        memberships.filter((m) => m.user_id === r.id).map((m) => m.group_name),
      ),
    );
  }

  async get(username: string): Promise<UserView> {
    const r = await this.row(username);
    if (!r) throw notFound(`user ${username}`);
    return view(r, await this.groupsOf(r.id));
  }

  async update(username: string, input: UserUpdate): Promise<UserView> {
    const r = await this.row(username);
    if (!r) throw notFound(`user ${username}`);
    if (input.groups) await this.requireGroups(input.groups);
    const passwordHash = input.password ? await hashPassword(input.password) : undefined;
    const { groups, disabled, email, name, first_name, last_name, role } = input;
    const fields = { email, name, first_name, last_name, role };
    await this.db.transaction().execute(async (tx) => {
      await tx
        .updateTable('users')
        .set({
          ...Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)),
          ...(passwordHash ? { password_hash: passwordHash } : {}),
          ...(disabled !== undefined ? { disabled: disabled ? 1 : 0 } : {}),
          updated_at: new Date().toISOString(),
        })
        .where('id', '=', r.id)
        .execute();
      if (groups) {
        await tx.deleteFrom('user_groups').where('user_id', '=', r.id).execute();
        for (const g of new Set(groups))
          await tx.insertInto('user_groups').values({ user_id: r.id, group_name: g }).execute();
      }
    });
    // A new password or a disabled account ends every session (a reset after a compromise must
    // lock the intruder out); other changes only make sessions renew their groups and names.
    await this.changed(r.id, passwordHash || disabled === true ? 'revoked' : 'changed');
    return this.get(username);
  }

  async remove(username: string): Promise<void> {
    const r = await this.row(username);
    if (!r) throw notFound(`user ${username}`);
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('user_groups').where('user_id', '=', r.id).execute();
      // Revoked, not deleted: a replica started later reads them (Sessions.revokedInStore); they
      // go at their expiry like any other (Sessions.prune).
      await tx
        .updateTable('sessions')
        .set({ revoked_at: new Date().toISOString() })
        .where('user_id', '=', r.id)
        .where('revoked_at', 'is', null)
        .execute();
      await tx.deleteFrom('users').where('id', '=', r.id).execute();
    });
    await this.changed(r.id, 'removed');
  }

  /** The user a username and password sign in as, or undefined; constant work either way. */
  async authenticate(username: string, password: string): Promise<UserRow | undefined> {
    const r = await this.row(username);
    const ok = await checkPassword(r?.password_hash ?? null, password);
    if (!r || !ok || r.disabled || !r.password_hash) return undefined;
    return r;
  }

  async row(username: string): Promise<UserRow | undefined> {
    return this.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
  }

  /** By username, or by email address when that names exactly one user (`login` in lowercase). */
  async rowByLogin(login: string): Promise<UserRow | undefined> {
    if (!login.includes('@')) return this.row(login);
    const rows = await this.db
      .selectFrom('users')
      .selectAll()
      .where(sql<string>`lower(email)`, '=', login)
      .limit(2)
      .execute();
    return rows.length === 1 ? rows[0] : undefined;
  }

  async rowById(id: string): Promise<UserRow | undefined> {
    return this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async setTotp(userId: string, sealedSecret: string | null, recoveryHashes: string[]): Promise<void> {
    await this.db
      .updateTable('users')
      .set({
        totp_secret: sealedSecret,
        recovery_codes: JSON.stringify(recoveryHashes),
        totp_last_step: -1,
        updated_at: new Date().toISOString(),
      })
      .where('id', '=', userId)
      .execute();
  }

  async identity(r: UserRow): Promise<Identity> {
    return {
      uid: r.id,
      username: r.username,
      email: r.email,
      name: r.name,
      first_name: r.first_name,
      last_name: r.last_name,
      groups: await this.groupsOf(r.id),
    };
  }

  async groupsOf(userId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('user_groups')
      .select('group_name')
      .where('user_id', '=', userId)
      .orderBy('group_name')
      .execute();
    return rows.map((r) => r.group_name);
  }

  // Groups

  async createGroup(
    input: GroupCreate,
    managedBy = '',
  ): Promise<{ name: string; description: string; members: string[] }> {
    const exists = await this.db
      .selectFrom('groups')
      .select('name')
      .where('name', '=', input.name)
      .executeTakeFirst();
    if (exists) throw conflict('name', `group ${input.name} exists`);
    await this.db
      .insertInto('groups')
      .values({
        name: input.name,
        description: input.description,
        created_at: new Date().toISOString(),
        managed_by: managedBy,
      })
      .execute();
    return { ...input, members: [] };
  }

  async listGroups(): Promise<
    { name: string; description: string; members: string[]; managed_by: string }[]
  > {
    const groups = await this.db.selectFrom('groups').selectAll().orderBy('name').execute();
    const members = await this.db
      .selectFrom('user_groups')
      .innerJoin('users', 'users.id', 'user_groups.user_id')
      .select(['user_groups.group_name', 'users.username'])
      .orderBy('users.username')
      .execute();
    return groups.map((g) => ({
      name: g.name,
      description: g.description,
      members: members.filter((m) => m.group_name === g.name).map((m) => m.username),
      managed_by: g.managed_by,
    }));
  }

  async removeGroup(name: string): Promise<void> {
    const exists = await this.db
      .selectFrom('groups')
      .select('name')
      .where('name', '=', name)
      .executeTakeFirst();
    if (!exists) throw notFound(`group ${name}`);
    const affected = await this.db
      .selectFrom('user_groups')
      .select('user_id')
      .where('group_name', '=', name)
      .execute();
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('user_groups').where('group_name', '=', name).execute();
      await tx.deleteFrom('groups').where('name', '=', name).execute();
    });
    for (const a of affected) await this.changed(a.user_id, 'changed');
  }

  private async requireGroups(groups: string[]): Promise<void> {
    if (groups.length === 0) return;
    const known = new Set(
      (await this.db.selectFrom('groups').select('name').where('name', 'in', groups).execute()).map(
        (g) => g.name,
      ),
    );
    const missing = groups.find((g) => !known.has(g));
    if (missing !== undefined) {
      throw invalid(`groups.${groups.indexOf(missing)}`, `no group ${missing} (create it first)`);
    }
  }
}

function view(r: UserRow, groups: string[]): UserView {
  return {
    id: r.id,
    username: r.username,
    email: r.email,
    name: r.name,
    first_name: r.first_name,
    last_name: r.last_name,
    role: r.role as Role,
    groups,
    disabled: r.disabled === 1,
    has_password: r.password_hash !== null,
    totp: r.totp_secret !== null,
    managed_by: r.managed_by,
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
}
