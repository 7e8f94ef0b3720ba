import { randomBytes } from 'node:crypto';
import { Command } from 'commander';
import type {
  GroupCreated,
  GroupList,
  SessionList,
  TotpEnrolment,
  TotpOff,
  UserList,
  UserView,
} from '../../api/views/index.js';
import { cliContext, collect, removeCommand, stdinLine } from '../context.js';
import { ago, table } from '../format.js';
import { qrTerminal } from '../../gate/totp.js';
import { hashPassword } from '../../gate/users.js';
import { passwordSchema } from '../../model/identity.js';
import { fromZod } from '../../model/errors.js';

interface PasswordOptions {
  password?: string;
  passwordStdin?: boolean;
}

/** The password given, or a generated one (returned so it can be shown once). */
async function passwordFrom(o: PasswordOptions): Promise<{ password: string; generated: boolean }> {
  if (o.passwordStdin) return { password: await stdinLine(), generated: false };
  if (o.password !== undefined) return { password: o.password, generated: false };
  return { password: randomBytes(12).toString('base64url'), generated: true };
}

export function userCommand(): Command {
  const cmd = new Command('user').description('users who can sign in at the login portal');

  cmd
    .command('ls')
    .description('list users')
    .action(async (_o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<UserList>('GET', '/api/v1/users');
      ctx.print(
        table(
          ['USERNAME', 'ROLE', 'GROUPS', 'EMAIL', 'TOTP', 'STATE', 'UPDATED'],
          r.users.map((u) => [
            u.username,
            u.role,
            u.groups.join(',') || '-',
            u.email || '-',
            u.totp ? 'on' : 'off',
            u.disabled ? 'disabled' : 'active',
            ago(u.updated_at),
          ]),
        ),
        r,
      );
    });

  cmd
    .command('add <username>')
    .description('create a user (a password is generated and shown once unless given)')
    .option('--password <password>', 'the password (visible in shell history; prefer --password-stdin)')
    .option('--password-stdin', 'read the password from the first line of standard input')
    .option('--email <email>', 'email address')
    .option('--name <name>', 'display name')
    .option('--first-name <name>', 'first name')
    .option('--last-name <name>', 'last name')
    .option('--group <group>', 'member of this group (repeatable)', collect)
    .option('--admin', 'administrator role')
    .action(
      async (
        username: string,
        o: PasswordOptions & {
          email?: string;
          name?: string;
          firstName?: string;
          lastName?: string;
          group?: string[];
          admin?: boolean;
        },
        c: Command,
      ) => {
        const ctx = cliContext(c);
        const { password, generated } = await passwordFrom(o);
        const user = await ctx.client.call<UserView>('POST', '/api/v1/users', {
          username,
          password,
          ...(o.email !== undefined ? { email: o.email } : {}),
          ...(o.name !== undefined ? { name: o.name } : {}),
          ...(o.firstName !== undefined ? { first_name: o.firstName } : {}),
          ...(o.lastName !== undefined ? { last_name: o.lastName } : {}),
          groups: o.group ?? [],
          role: o.admin ? 'admin' : 'user',
        });
        const shown = generated ? `\npassword (shown once): ${password}` : '';
        ctx.print(`created user ${user.username}${shown}`, generated ? { ...user, password } : user);
      },
    );

  cmd
    .command('passwd <username>')
    .description("set a user's password (generated and shown once unless given)")
    .option('--password <password>', 'the new password')
    .option('--password-stdin', 'read the password from the first line of standard input')
    .action(async (username: string, o: PasswordOptions, c: Command) => {
      const ctx = cliContext(c);
      const { password, generated } = await passwordFrom(o);
      const user = await ctx.client.call<UserView>('PATCH', `/api/v1/users/${encodeURIComponent(username)}`, {
        password,
      });
      const shown = generated ? `\npassword (shown once): ${password}` : '';
      ctx.print(`password changed for ${user.username}${shown}`, generated ? { ...user, password } : user);
    });

  cmd
    .command('set <username>')
    .description("change a user's groups, role, names or state")
    .option('--group <group>', 'replace the groups with these (repeatable)', collect)
    .option('--no-groups', 'remove the user from every group')
    .option('--email <email>', 'email address')
    .option('--name <name>', 'display name')
    .option('--role <role>', 'admin or user')
    .option('--disable', 'disable: signing in and existing sessions stop working at once')
    .option('--enable', 'enable again')
    .action(
      async (
        username: string,
        o: {
          group?: string[];
          groups?: boolean;
          email?: string;
          name?: string;
          role?: string;
          disable?: boolean;
          enable?: boolean;
        },
        c: Command,
      ) => {
        const ctx = cliContext(c);
        const body = {
          ...(o.group ? { groups: o.group } : o.groups === false ? { groups: [] } : {}),
          ...(o.email !== undefined ? { email: o.email } : {}),
          ...(o.name !== undefined ? { name: o.name } : {}),
          ...(o.role !== undefined ? { role: o.role } : {}),
          ...(o.disable ? { disabled: true } : o.enable ? { disabled: false } : {}),
        };
        const user = await ctx.client.call<UserView>(
          'PATCH',
          `/api/v1/users/${encodeURIComponent(username)}`,
          body,
        );
        ctx.print(`updated user ${user.username}`, user);
      },
    );

  cmd
    .command('totp <username>')
    .description('turn on two-step sign-in for a user: prints the QR code, key and recovery codes')
    .option('--off', 'turn it off instead')
    .action(async (username: string, o: { off?: boolean }, c: Command) => {
      const ctx = cliContext(c);
      const path = `/api/v1/users/${encodeURIComponent(username)}/totp`;
      if (o.off) {
        const r = await ctx.client.call<TotpOff>('DELETE', path);
        ctx.print(`two-step sign-in is off for ${username}`, r);
        return;
      }
      const r = await ctx.client.call<TotpEnrolment>('POST', path);
      const qr = ctx.json ? '' : await qrTerminal(r.url);
      ctx.print(
        [
          `two-step sign-in is on for ${username}. Scan with an authenticator app:`,
          qr,
          `key: ${r.secret}`,
          `url: ${r.url}`,
          'recovery codes (each works once; shown only now):',
          ...r.recovery_codes.map((x) => `  ${x}`),
        ].join('\n'),
        r,
      );
    });

  removeCommand(
    cmd,
    'rm <username>',
    'remove a user (their sessions end at once)',
    '/api/v1/users/',
    'removed user',
  );

  return cmd;
}

/** For access.basic: an argon2id hash of a password, computed locally (nothing is sent anywhere). */
export function hashPasswordCommand(): Command {
  return new Command('hash-password')
    .description('print an argon2id hash of a password, for access.basic in a service')
    .option('--password-stdin', 'read the password from the first line of standard input (default)')
    .option('--password <password>', 'the password (visible in shell history)')
    .action(async (o: PasswordOptions) => {
      const password = o.password ?? (await stdinLine());
      const parsed = passwordSchema.safeParse(password);
      if (!parsed.success) throw fromZod(parsed.error, 'password');
      console.log(await hashPassword(password));
    });
}

export function groupCommand(): Command {
  const cmd = new Command('group').description('groups of users (login: { groups: [...] } admits them)');
  cmd
    .command('ls')
    .description('list groups and their members')
    .action(async (_o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<GroupList>('GET', '/api/v1/groups');
      ctx.print(
        table(
          ['NAME', 'MEMBERS', 'DESCRIPTION'],
          r.groups.map((g) => [g.name, g.members.join(',') || '-', g.description || '-']),
        ),
        r,
      );
    });
  cmd
    .command('add <name>')
    .description('create a group')
    .option('--description <text>', 'what the group is for')
    .action(async (name: string, o: { description?: string }, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<GroupCreated>('POST', '/api/v1/groups', {
        name,
        ...(o.description !== undefined ? { description: o.description } : {}),
      });
      ctx.print(`created group ${name}`, r);
    });
  removeCommand(
    cmd,
    'rm <name>',
    'remove a group (its members lose it at once)',
    '/api/v1/groups/',
    'removed group',
  );
  return cmd;
}

export function sessionCommand(): Command {
  const cmd = new Command('session').description('signed-in sessions');
  cmd
    .command('ls')
    .description('list live sessions')
    .option('--user <username>', 'only this user')
    .action(async (o: { user?: string }, c: Command) => {
      const ctx = cliContext(c);
      const q = o.user ? `?user=${encodeURIComponent(o.user)}` : '';
      const r = await ctx.client.call<SessionList>('GET', `/api/v1/sessions${q}`);
      ctx.print(
        table(
          ['ID', 'USER', 'VIA', 'IP', 'CREATED', 'EXPIRES'],
          r.sessions.map((s) => [s.id, s.username, s.via, s.ip, ago(s.created_at), s.expires_at]),
        ),
        r,
      );
    });
  removeCommand(
    cmd,
    'revoke <id>',
    'end a session on every edge at once',
    '/api/v1/sessions/',
    'revoked session',
  );
  return cmd;
}
