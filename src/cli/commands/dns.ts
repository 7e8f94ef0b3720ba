import { Command } from 'commander';
import { dnsLanCommand } from './dns-lan.js';

/**
 * `gatehouse dns …`: the group each DNS part adds its subcommand to, one line each (the subcommands
 * live in their own files: dns-lan.ts, …).
 */
export function dnsCommand(): Command {
  const cmd = new Command('dns').description('DNS: split horizon for the LAN, records at providers');
  cmd.addCommand(dnsLanCommand());
  return cmd;
}
