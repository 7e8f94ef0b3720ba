import type { Command } from 'commander';
import { CONTROL_PLACEHOLDER } from '../api/control-url.js';

/**
 * A command printed for an edge or a site machine, made whole: the API answered with a placeholder
 * for `--control` (its `control_url` is unset), so the CLI's own `--api` URL goes there when it is
 * HTTP(S); over the unix socket it cannot know it, and says how to set it.
 */
export function completeCommand(command: string, c: Command): { command: string; hint: string } {
  if (!command.includes(CONTROL_PLACEHOLDER)) return { command, hint: '' };
  const api = c.optsWithGlobals<{ api?: string }>().api ?? process.env.GATEHOUSE_API;
  if (api && /^https?:/.test(api)) return { command: command.replace(CONTROL_PLACEHOLDER, api), hint: '' };
  return {
    command,
    hint:
      `\n(replace ${CONTROL_PLACEHOLDER} with the URL that machine reaches the API at; set control_url` +
      ' (e.g. control_url: https://cp.example.com:7070 in the config file, or GATEHOUSE_CONTROL_URL)' +
      ' and restart, and the printed command is complete)',
  };
}
