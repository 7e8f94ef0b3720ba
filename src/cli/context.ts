import type { Command } from 'commander';
import { GatehouseError } from '../model/errors.js';
import { apiSocketPath, loadSettings, type Settings } from '../model/settings.js';
import type { Deleted, Revoked } from '../api/views/index.js';
import { ApiClient } from './client.js';

export interface GlobalOptions {
  json?: boolean;
  api?: string;
  token?: string;
  dataDir?: string;
  config?: string;
}

/** What every client command needs: output mode and a client for the running Gatehouse. */
export interface CliContext {
  json: boolean;
  client: ApiClient;
  print(human: string, data: unknown): void;
}

export function cliContext(cmd: Command): CliContext {
  const o = cmd.optsWithGlobals<GlobalOptions>();
  const dataDir = o.dataDir ?? process.env.GATEHOUSE_DATA_DIR ?? settingsFor(o).data_dir;
  const api = o.api ?? process.env.GATEHOUSE_API;
  const token = o.token ?? process.env.GATEHOUSE_ADMIN_TOKEN;
  const json = !!o.json;
  return {
    json,
    client: new ApiClient({ api, token, socketPath: apiSocketPath(dataDir) }),
    print: (human, data) => console.log(json ? JSON.stringify(data, null, 2) : human),
  };
}

/** Settings for commands that read them locally (doctor); only the data dir and config matter. */
export function settingsFor(o: GlobalOptions): Settings {
  try {
    return loadSettings({ config: o.config, data_dir: o.dataDir });
  } catch (err) {
    if (err instanceof GatehouseError) throw err;
    throw err;
  }
}

/** The first line of standard input (for --password-stdin and the like). */
export async function stdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

/** Commander accumulator for repeatable options. */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/**
 * A subcommand that removes one thing by its name or id: DELETE `<base><arg>`, then print
 * `<done> <arg>` (or, with --json, the API's answer).
 */
export function removeCommand(
  parent: Command,
  usage: string,
  description: string,
  base: string,
  done: string,
): void {
  parent
    .command(usage)
    .description(description)
    .action(async (arg: string, _o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<Deleted | Revoked>('DELETE', `${base}${encodeURIComponent(arg)}`);
      ctx.print(`${done} ${arg}`, r);
    });
}
