import { Command } from 'commander';
import type { RotateBody, RotateKind } from '../../api/rotate.js';
import type { Rotated } from '../../api/views/index.js';
import { invalid } from '../../model/errors.js';
import { cliContext } from '../context.js';
import { completeCommand } from '../control-hint.js';

/** POST /api/v1/rotate/{kind} and prints what the operator must know (a new token, once). */
async function rotate(c: Command, kind: RotateKind, body: RotateBody): Promise<void> {
  const ctx = cliContext(c);
  const r = await ctx.client.call<Rotated>('POST', `/api/v1/rotate/${kind}`, body);
  const lines = [`${kind} rotated: ${r.message}`];
  if (r.token !== undefined) lines.push(`token: ${r.token}`);
  if (r.command !== undefined) {
    const { command, hint } = completeCommand(r.command, c);
    lines.push(`start the agent with: ${command}${hint}`);
  }
  ctx.print(lines.join('\n'), r);
}

/** The new GATEHOUSE_SECRET from the variable `--new-secret-env` names (never an argument: `ps`). */
function newSecretFrom(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const value = process.env[name];
  if (!value) throw invalid('new-secret-env', `${name} is not set (or empty): put the new secret in it`);
  return value;
}

/** `gatehouse rotate KIND`: a new secret, in force at once in the running Gatehouse. */
export function rotateCommand(): Command {
  const cmd = new Command('rotate').description(
    'rotate a secret in the running Gatehouse, in force at once (see docs/rotation.md)',
  );
  cmd
    .command('admin-token')
    .description('a new admin token (shown once); the old one is refused at once')
    .action(async (_o, c: Command) => rotate(c, 'admin-token', {}));
  cmd
    .command('register-token')
    .description('a new registration token (shown once); the old one is refused at once')
    .action(async (_o, c: Command) => rotate(c, 'register-token', {}));
  cmd
    .command('node-token <node>')
    .description("a new token for an edge node (shown once); restart the node's agent with it")
    .action(async (node: string, _o, c: Command) => rotate(c, 'node-token', { node }));
  cmd
    .command('session-key')
    .description('a new session signing key; sessions made before stay valid until renewed')
    .action(async (_o, c: Command) => rotate(c, 'session-key', {}));
  cmd
    .command('data-key')
    .description('a new data key: every sealed secret re-sealed in one transaction')
    .option(
      '--new-secret-env <var>',
      'when the key comes from GATEHOUSE_SECRET: the environment variable holding the new secret',
    )
    .action(async (o: { newSecretEnv?: string }, c: Command) => {
      const secret = newSecretFrom(o.newSecretEnv);
      await rotate(c, 'data-key', secret === undefined ? {} : { new_secret: secret });
    });
  return cmd;
}
