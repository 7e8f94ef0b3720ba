import { Command, Option } from 'commander';
import { z } from 'zod';
import { fromZod, GatehouseError } from '../../model/errors.js';
import {
  controlUrlSchema,
  credentialsSchema,
  loadCredentials,
  saveCredentials,
} from '../../edge/credentials.js';
import { parseListen, settingsFields } from '../../model/settings.js';
import { portSchema } from '../../model/values.js';
import { createLogger } from '../../observe/log.js';
import { cliContext, removeCommand } from '../context.js';
import { completeCommand } from '../control-hint.js';
import { table } from '../format.js';
import { tunnelFlagsSchema, tunnelOptions } from './site.js';
import type { NodeEnrolled, NodeList } from '../../api/views/index.js';

/** Options of `gatehouse edge`, keyed by their flags so that errors name what the user typed. */
const edgeOptionsSchema = z
  .strictObject({
    // Each URL checked on its own, so that the message names `control` and the URL at fault.
    control: z
      .array(z.string())
      .min(1)
      .max(16)
      .superRefine((urls, ctx) => {
        for (const u of urls) {
          const r = controlUrlSchema.safeParse(u);
          if (!r.success) ctx.addIssue({ code: 'custom', message: `${u}: ${r.error.issues[0]?.message}` });
        }
      })
      .optional(),
    'node-token': credentialsSchema.shape.token.optional(),
    'edge-dir': z.string().min(1),
    'edge-http-port': z.coerce.number().pipe(portSchema),
    'edge-https-port': z.coerce.number().int().min(0).max(65535),
    'nginx-bin': z.string().min(1),
    'nginx-modules-dir': z.string().min(1),
    // The setting's own check: an absolute path to a file that can be read.
    'geoip-db': settingsFields.shape.geoip_db,
    'geoip-asn-db': settingsFields.shape.geoip_asn_db,
    'log-level': z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    'insecure-control': z.boolean().default(false),
    'register-listen': z
      .string()
      .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]*):[0-9]{1,5}$/, 'expected HOST:PORT or :PORT')
      // One message per mistake: an address that is not one is not also told about its port.
      .refine(
        (v) => !/:[0-9]{1,5}$/.test(v) || Number(/([0-9]+)$/.exec(v)?.[1]) <= 65535,
        'a port up to 65535',
      )
      .optional(),
    'metrics-listen': z
      .string()
      .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]*):[0-9]{1,5}$/, 'expected HOST:PORT or :PORT')
      .refine(
        (v) => !/:[0-9]{1,5}$/.test(v) || Number(/([0-9]+)$/.exec(v)?.[1]) <= 65535,
        'a port up to 65535',
      )
      .optional(),
    ...tunnelFlagsSchema.shape,
  })
  .refine((o) => o['edge-https-port'] !== o['edge-http-port'], {
    path: ['edge-https-port'],
    message: 'not the HTTP port',
  })
  .refine(
    (o) => {
      const port = Number(/([0-9]+)$/.exec(o['register-listen'] ?? '')?.[1] ?? -1);
      return port !== o['edge-http-port'] && port !== o['edge-https-port'];
    },
    { path: ['register-listen'], message: "not a port the edge's nginx serves on" },
  );

/** `gatehouse edge`: run this machine as an edge node of a control plane. */
export function edgeCommand(): Command {
  return new Command('edge')
    .description('run an edge node: take the config from a control plane and serve it with nginx')
    .option(
      '--control <url>',
      "the control plane's management API URL; several replicas: URL1,URL2 or the flag again, followed in turn when one fails (stored after the first start)",
      (v: string, prev: string[] = []) => [...prev, ...v.split(',').map((u) => u.trim())],
    )
    .addOption(
      new Option(
        '--node-token <token>',
        "this node's token from `gatehouse node add` (stored, root-only, after the first start)",
      ).env('GATEHOUSE_NODE_TOKEN'),
    )
    .option('--insecure-control', 'allow a plain-http control URL that is not loopback (a private tunnel)')
    .option('--edge-dir <dir>', 'where the edge keeps its nginx', '/var/lib/gatehouse-edge')
    .option('--edge-http-port <port>', 'HTTP port to serve on', '80')
    .option('--edge-https-port <port>', 'HTTPS port to serve on (0: none)', '443')
    .option('--nginx-bin <path>', 'nginx binary', 'nginx')
    .option('--nginx-modules-dir <dir>', 'nginx modules', '/usr/lib/nginx/modules')
    .option(
      '--geoip-db <file>',
      "a MaxMind-format country database on this edge (rules' country; see geoip_db)",
    )
    .option('--geoip-asn-db <file>', "a MaxMind-format ASN database on this edge (rules' asn)")
    .option(
      '--register-listen <host:port>',
      "also take registrations here (the control plane's registration API, token and allowlist), relayed to the replica followed",
    )
    .option(
      '--metrics-listen <host:port>',
      "serve this edge's traffic metrics at GET /metrics here, with no token (bind it to a local or private address)",
    )
    .option('--tunnel-port <port>', 'run the WireGuard server for sites on this UDP port (docs/sites.md)')
    .option(
      '--tunnel-endpoint <host:port>',
      'where sites reach it (default: the address the control plane sees)',
    )
    .option('--tunnel-interface <name>', 'its WireGuard interface', 'gh-edge0')
    .option('--log-level <level>', 'log level', 'info')
    .action(async (raw: Record<string, string>) => {
      const flags = Object.fromEntries(
        Object.entries(raw).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), v]),
      );
      const parsed = edgeOptionsSchema.safeParse(flags);
      if (!parsed.success) throw fromZod(parsed.error, '');
      const o = parsed.data;
      const log = createLogger(o['log-level']);
      // First start: the enrolment flags are stored; later starts need none (and keep the token
      // out of the process list).
      const stored = await loadCredentials(o['edge-dir']);
      const controls = o.control ?? stored?.controls ?? (stored ? [stored.control] : undefined);
      const token = o['node-token'] ?? stored?.token;
      if (!controls?.[0] || !token)
        throw new GatehouseError(
          'not_enrolled',
          'this edge is not enrolled: pass --control and --node-token (from `gatehouse node add`) once',
          400,
        );
      // The node token rides on every request: in clear text only to this machine or when the
      // operator says the path is private (a WireGuard tunnel, a cable).
      for (const control of controls)
        if (
          !o['insecure-control'] &&
          !/^https:|^http:\/\/(127\.[0-9.]+|\[::1\]|localhost)(:|\/|$)/.test(control)
        )
          throw new GatehouseError(
            'insecure_control',
            `control: ${control}: use https:// (plain http sends the node token in clear text); on a private tunnel pass --insecure-control`,
            400,
          );
      const creds = {
        control: controls[0],
        ...(controls.length > 1 ? { controls } : {}),
        token,
      };
      if (JSON.stringify(creds) !== JSON.stringify(stored && { ...stored }))
        await saveCredentials(o['edge-dir'], creds);
      const { EdgeAgent } = await import('../../edge/agent.js');
      const agent = new EdgeAgent({
        control: controls,
        token,
        dataDir: o['edge-dir'],
        httpPort: o['edge-http-port'],
        httpsPort: o['edge-https-port'],
        nginxBin: o['nginx-bin'],
        modulesDir: o['nginx-modules-dir'],
        ...(o['geoip-db'] || o['geoip-asn-db']
          ? {
              geoip: {
                ...(o['geoip-db'] ? { country: o['geoip-db'] } : {}),
                ...(o['geoip-asn-db'] ? { asn: o['geoip-asn-db'] } : {}),
              },
            }
          : {}),
        workers: 1,
        log,
        ...(o['register-listen'] ? { registerListen: listenAt(o['register-listen']) } : {}),
        ...(o['metrics-listen'] ? { metricsListen: metricsAt(o['metrics-listen']) } : {}),
        ...tunnelOptions(o),
      });
      const stop = () => void agent.stop().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      await agent.run();
    });
}

/** HOST:PORT or :PORT (every interface) as the relay's listen address. */
function listenAt(v: string): { host: string; port: number } {
  const { host, port } = parseListen(v);
  return { host: host ?? '0.0.0.0', port: port ?? 0 };
}

/** HOST:PORT or :PORT (loopback: the endpoint has no token) for the edge's metrics. */
function metricsAt(v: string): { host: string; port: number } {
  const { port } = parseListen(v);
  const host = /^(.*):[0-9]+$/.exec(v)?.[1]?.replace(/^\[|\]$/g, '');
  return { host: host || '127.0.0.1', port: port ?? 0 };
}

/** `gatehouse node`: enrol, list and remove edge nodes on the control plane. */
export function nodeCommand(): Command {
  const cmd = new Command('node').description('edge nodes that take their config from this control plane');
  cmd
    .command('add <name>')
    .description('enrol a node: prints the command to run on it (its token is shown once)')
    .option('--role <role>', 'public or lan', 'public')
    .action(async (name: string, o: { role: string }, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<NodeEnrolled>('POST', '/api/v1/nodes', { name, role: o.role });
      const { command, hint } = completeCommand(r.command, c);
      ctx.print(`enrolled node ${r.node.name}; on it, run:\n  ${command}${hint}`, { ...r, command });
    });
  cmd
    .command('ls')
    .description('list nodes with what they applied and when they were last seen')
    .action(async (_o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<NodeList>('GET', '/api/v1/nodes');
      ctx.print(
        table(
          ['NAME', 'ROLE', 'STATE', 'ADDRESS', 'VERSION', 'LAST SEEN', 'APPLIED', 'FOLLOWS', 'DOWN', 'ERROR'],
          r.nodes.map((n) => [
            n.name,
            n.role,
            n.online ? 'online' : 'offline',
            n.address || '-',
            n.version || '-',
            n.last_seen ?? 'never',
            n.applied_hash ? `v${n.applied_version} ${n.in_sync ? 'current' : 'behind'}` : '-',
            n.replica || '-',
            n.down_servers.join(' ') || '-',
            n.last_error || '-',
          ]),
        ),
        r,
      );
    });
  removeCommand(
    cmd,
    'rm <name>',
    'remove a node (its token stops working)',
    '/api/v1/nodes/',
    'removed node',
  );
  return cmd;
}
