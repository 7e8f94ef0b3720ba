import { Command } from 'commander';
import { z } from 'zod';
import { fromZod } from '../../model/errors.js';
import { durationMs, durationSchema, hostnameSchema, slugSchema } from '../../model/values.js';
import { createLogger } from '../../observe/log.js';
import { collect } from '../context.js';

/** Options of `gatehouse agent`, keyed by their flags so that errors name what the user typed. */
const agentOptionsSchema = z.strictObject({
  control: z.string().regex(/^https?:\/\/[^\s/]+(\/\S*)?$/, 'the registration API as http(s)://host:port'),
  token: z.string().min(16, 'the registration token (GATEHOUSE_REGISTER_TOKEN on the control plane)'),
  service: slugSchema,
  upstream: z.array(z.string().min(1)).min(1, 'at least one --upstream IP:port'),
  domain: z.array(hostnameSchema).min(1, 'at least one --domain'),
  path: z.string().default('/'),
  ttl: durationSchema,
  'health-path': z
    .string()
    .regex(/^\/[\x21-\x7e]*$/, 'a path such as /status')
    .optional(),
  'log-level': z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
});

/** `gatehouse agent`: register one service from a VM or host without Docker, and keep it alive. */
export function agentCommand(): Command {
  return new Command('agent')
    .description('keep a service registered from this machine (heartbeats; deregistered on stop)')
    .requiredOption('--control <url>', "the control plane's registration API (register_listen)")
    .requiredOption('--service <name>', 'the service name')
    .requiredOption('--upstream <ip:port>', 'where the service listens (repeatable)', collect)
    .requiredOption('--domain <host>', 'a host name to serve it under (repeatable)', collect)
    .option('--path <prefix>', 'path prefix', '/')
    .option('--ttl <duration>', 'out of rotation after this long without a heartbeat', '30s')
    .option('--health-path <path>', 'checked on the upstream before each heartbeat')
    .option('--log-level <level>', 'log level', 'info')
    .action(async (raw: Record<string, unknown>, c: Command) => {
      // --token is the program's own option (the registration token here; env GATEHOUSE_REGISTER_TOKEN).
      const globals = c.optsWithGlobals<{ token?: string }>();
      const flags = Object.fromEntries(
        Object.entries({ ...raw, token: globals.token ?? process.env.GATEHOUSE_REGISTER_TOKEN }).map(
          ([k, v]) => [k.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`), v],
        ),
      );
      const parsed = agentOptionsSchema.safeParse(flags);
      if (!parsed.success) throw fromZod(parsed.error, '');
      const o = parsed.data;
      const { ServiceAgent } = await import('../../sources/agent/client.js');
      const agent = new ServiceAgent({
        control: o.control,
        token: o.token,
        name: o.service,
        upstreams: o.upstream,
        domains: o.domain,
        path: o.path,
        ttlMs: durationMs(o.ttl),
        ...(o['health-path'] ? { healthPath: o['health-path'] } : {}),
        log: createLogger(o['log-level']),
      });
      const stop = () => void agent.stop().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      await agent.run();
    });
}
