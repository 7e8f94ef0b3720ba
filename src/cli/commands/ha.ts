import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Command } from 'commander';
import { writeFileAtomic } from '../../store/files.js';
import { keepalivedConfig, type KeepalivedInput } from '../../edge/ha.js';
import {
  assignFloatingIp,
  HETZNER_API_URL,
  parseHetznerAssignOptions,
  readToken,
} from '../../edge/hetzner-floating-ip.js';
import { GatehouseError } from '../../model/errors.js';
import { collect, type GlobalOptions } from '../context.js';

/** Schema field → the flag a user typed, so that an error names what they can fix. */
function flagOf(field: string): string {
  const [key = '', index] = field.split('.');
  const flag = key === 'peers' ? 'peer' : key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  return `--${flag}${index === undefined ? '' : ` #${Number(index) + 1}`}`;
}

function withFlags<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (!(err instanceof GatehouseError) || err.issues.length === 0) throw err;
    const issues = err.issues.map((i) => ({ field: flagOf(i.field), message: i.message }));
    const [first] = issues;
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
    throw new GatehouseError(err.code, `${first?.field}: ${first?.message}${more}`, err.status, issues);
  }
}

interface KeepalivedFlags {
  out?: string;
  interface?: string;
  vip?: string;
  vipInterface?: string;
  peer?: string[];
  sourceIp?: string;
  priority?: string;
  routerId?: string;
  checkUrl?: string;
  checkInterval?: string;
  onMaster?: string;
  advert?: string;
  preempt: boolean;
}

function keepalivedSubcommand(): Command {
  return (
    new Command('keepalived')
      .description(
        'write keepalived.conf and its scripts for one edge of a pair sharing a floating IP (VRRPv3, unicast)',
      )
      // Every value is checked by one schema (src/edge/ha.ts), which also says what is required.
      .option('--out <dir>', 'where to write keepalived.conf, check-edge.sh and notify.sh (required)')
      .option('--interface <name>', 'the interface the adverts (and the VIP) go on (required)')
      .option(
        '--vip <addr/prefix>',
        'the shared address with its prefix length, e.g. 203.0.113.10/32 (required)',
      )
      .option('--vip-interface <name>', 'put the VIP on this interface instead (e.g. the public one)')
      .option('--peer <ip>', 'the other edge’s address, for unicast adverts (required; repeatable)', collect)
      .option('--source-ip <ip>', 'this edge’s address the adverts come from (default: the interface’s)')
      .option('--priority <n>', 'this edge’s priority, 1-254; the higher one holds the VIP (required)')
      .option('--router-id <n>', 'virtual_router_id, 1-255, the same on both edges', '51')
      .option('--check-url <url>', 'the local nginx; any HTTP answer means it serves', 'http://127.0.0.1:80/')
      .option(
        '--check-interval <seconds>',
        'seconds between checks (two failures in a row give up the VIP)',
        '1',
      )
      .option('--on-master <command>', 'shell command run on becoming master (e.g. move a cloud floating IP)')
      .option('--advert <seconds>', 'advert interval; the backup takes over after ~3 of them', '0.1')
      .option('--no-preempt', 'a returning edge with the higher priority does not take the VIP back')
      .action(async (o: KeepalivedFlags, c: Command) => {
        const input: Record<keyof KeepalivedInput, unknown> = {
          // keepalived runs the scripts by absolute path.
          out: o.out === undefined ? undefined : resolve(o.out),
          interface: o.interface,
          vip: o.vip,
          vipInterface: o.vipInterface,
          peers: o.peer ?? [],
          sourceIp: o.sourceIp,
          priority: o.priority,
          routerId: o.routerId,
          checkUrl: o.checkUrl,
          checkInterval: o.checkInterval,
          onMaster: o.onMaster,
          advert: o.advert,
          preempt: o.preempt,
        };
        const { options, files } = withFlags(() => keepalivedConfig(input as KeepalivedInput));
        await mkdir(options.out, { recursive: true });
        for (const f of files) {
          await mkdir(dirname(f.path), { recursive: true });
          await writeFileAtomic(f.path, f.content, f.mode);
        }
        if (c.optsWithGlobals<GlobalOptions>().json) {
          console.log(JSON.stringify({ files: files.map((f) => f.path), options }, null, 2));
          return;
        }
        const conf = files[0]?.path ?? '';
        console.log(
          [
            `wrote ${files.map((f) => f.path).join(', ')}`,
            `check it:  keepalived -t -f ${conf}`,
            `run it:    keepalived -n -l -f ${conf}   (or --out /etc/keepalived and systemctl restart keepalived)`,
          ].join('\n'),
        );
      })
  );
}

interface HetznerFlags {
  floatingIpId?: string;
  serverId?: string;
  tokenFile?: string;
  apiUrl?: string;
  wait?: string;
}

function hetznerSubcommand(): Command {
  return new Command('hetzner-floating-ip')
    .description('assign a Hetzner Cloud floating IP to a server (for --on-master); retries briefly')
    .option('--floating-ip-id <id>', 'the floating IP’s id (required)')
    .option('--server-id <id>', 'this server’s id (required)')
    .option('--token-file <file>', 'file holding a Hetzner Cloud API token (required)')
    .option('--api-url <url>', 'Hetzner Cloud API', HETZNER_API_URL)
    .option('--wait <seconds>', 'wait this long for the assignment to finish (0: do not wait)', '60')
    .action(async (o: HetznerFlags, c: Command) => {
      const opts = withFlags(() =>
        parseHetznerAssignOptions({
          floatingIpId: o.floatingIpId,
          serverId: o.serverId,
          tokenFile: o.tokenFile,
          apiUrl: o.apiUrl,
          wait: o.wait,
        }),
      );
      const token = await readToken(opts.tokenFile);
      const r = await assignFloatingIp({ ...opts, token });
      if (c.optsWithGlobals<GlobalOptions>().json) console.log(JSON.stringify(r));
      else {
        console.log(
          `floating IP ${opts.floatingIpId} assigned to server ${opts.serverId}` +
            ` (action ${r.actionId} ${r.status}, ${r.ms} ms, ${r.requests} request${r.requests === 1 ? '' : 's'})`,
        );
      }
    });
}

/** `gatehouse ha`: two edges sharing a floating IP. */
export function haCommand(): Command {
  return new Command('ha')
    .description('two edges sharing a floating IP: keepalived configuration and cloud hooks')
    .addCommand(keepalivedSubcommand())
    .addCommand(hetznerSubcommand());
}
