import { Command, Option } from 'commander';
import { z } from 'zod';
import type { SiteAdded, SiteList, SiteViewShape } from '../../api/views/index.js';
import { controlUrlSchema, loadCredentials, saveCredentials } from '../../edge/credentials.js';
import { fromZod, GatehouseError } from '../../model/errors.js';
import { slugSchema } from '../../model/values.js';
import { createLogger } from '../../observe/log.js';
import { IFACE_RE } from '../../vpn/wg.js';
import { completeCommand } from '../control-hint.js';
import { cliContext, collect, removeCommand } from '../context.js';
import { table } from '../format.js';

/** `gatehouse edge --tunnel-*`: this public edge runs the WireGuard server for the sites. */
export const tunnelFlagsSchema = z.strictObject({
  'tunnel-port': z.coerce.number().int().min(1).max(65535).optional(),
  'tunnel-endpoint': z
    .string()
    .regex(/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/, 'HOST:PORT sites dial')
    .optional(),
  'tunnel-interface': z.string().regex(IFACE_RE, '1-15 letters, digits, ".", "_" or "-"').default('gh-edge0'),
});

export function tunnelOptions(o: z.output<typeof tunnelFlagsSchema>): {
  tunnel?: { port: number; endpoint: string; iface: string };
} {
  const port = o['tunnel-port'];
  if (port === undefined) return {};
  return { tunnel: { port, endpoint: o['tunnel-endpoint'] ?? '', iface: o['tunnel-interface'] } };
}

const connectSchema = z.strictObject({
  name: slugSchema,
  control: controlUrlSchema.optional(),
  'site-token': z
    .string()
    .regex(/^[A-Za-z0-9_-]{16,200}$/, 'the token `gatehouse site add` printed')
    .optional(),
  'site-dir': z.string().min(1),
  interface: z.string().regex(IFACE_RE, '1-15 letters, digits, ".", "_" or "-"').optional(),
  'insecure-control': z.boolean().default(false),
  'log-level': z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
});

/** `gatehouse site`: WireGuard sites (a network behind NAT published through the public edges). */
export function siteCommand(): Command {
  const cmd = new Command('site').description(
    'WireGuard sites: networks behind NAT whose services the public edges proxy through a tunnel',
  );
  cmd
    .command('add <name>')
    .description('add a site: prints the command to run on a machine there (its token is shown once)')
    .option('--subnet <cidr>', 'a LAN block the site announces (repeatable)', collect, [])
    .option('--site-to-site', "reach the other site-to-site sites' subnets through the public edges")
    .action(async (name: string, o: { subnet: string[]; siteToSite?: boolean }, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<SiteAdded>('POST', '/api/v1/sites', {
        name,
        subnets: o.subnet,
        ...(o.siteToSite ? { site_to_site: true } : {}),
      });
      const { command, hint } = completeCommand(r.command, c);
      ctx.print(
        `added site ${r.site.name} (tunnel address ${r.site.address}); on a machine there, run:\n  ${command}${hint}`,
        { ...r, command },
      );
    });
  cmd
    .command('ls')
    .alias('list')
    .description('list sites with their subnets, tunnel address, latency, last handshake and bytes')
    .action(async (_o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<SiteList>('GET', '/api/v1/sites');
      ctx.print(
        table(
          [
            'NAME',
            'SUBNETS',
            'ADDRESS',
            'STATE',
            'SITE-TO-SITE',
            'LATENCY',
            'HANDSHAKE',
            'RX/TX',
            'LAST SEEN',
          ],
          r.sites.map((s) => [
            s.name,
            s.subnets.join(' ') || '-',
            s.address,
            s.connected ? 'connected' : s.public_key ? 'disconnected' : 'never connected',
            s.site_to_site ? 'on' : 'off',
            s.tunnel.latency_ms === null ? '-' : `${s.tunnel.latency_ms} ms`,
            s.tunnel.handshake_age_s === null
              ? (s.last_handshake ?? 'never')
              : `${s.tunnel.handshake_age_s}s ago`,
            `${s.tunnel.rx_bytes}/${s.tunnel.tx_bytes}`,
            s.last_seen ?? 'never',
          ]),
        ),
        r,
      );
    });
  cmd
    .command('set <name>')
    .description('change a site: --site-to-site on|off')
    .requiredOption(
      '--site-to-site <on|off>',
      "reach the other site-to-site sites' subnets (on) or not (off)",
    )
    .action(async (name: string, o: { siteToSite: string }, c: Command) => {
      const ctx = cliContext(c);
      const on = { on: true, off: false }[o.siteToSite];
      if (on === undefined)
        throw new GatehouseError('invalid', `site_to_site: on or off, not ${o.siteToSite}`, 400, [
          { field: 'site_to_site', message: 'on or off' },
        ]);
      const r = await ctx.client.call<SiteViewShape>('PATCH', `/api/v1/sites/${encodeURIComponent(name)}`, {
        site_to_site: on,
      });
      ctx.print(`site ${r.name}: site-to-site ${r.site_to_site ? 'on' : 'off'}`, r);
    });
  removeCommand(
    cmd,
    'rm <name>',
    'remove a site (its token stops working; edges drop its peer)',
    '/api/v1/sites/',
    'removed site',
  );
  cmd
    .command('connect <name>')
    .description("run this machine as the site's connector: the WireGuard client of the public edges")
    .option('--control <url>', "the control plane's management API URL (stored after the first start)")
    .addOption(
      new Option('--site-token <token>', 'the token `gatehouse site add` printed (stored, root-only)').env(
        'GATEHOUSE_SITE_TOKEN',
      ),
    )
    .option(
      '--site-dir <dir>',
      'where the connector keeps its key and last config',
      '/var/lib/gatehouse-site',
    )
    .option('--interface <name>', 'the WireGuard interface (default gh-NAME)')
    .option('--insecure-control', 'allow a plain-http control URL that is not loopback')
    .option('--log-level <level>', 'log level', 'info')
    .action(async (name: string, raw: Record<string, unknown>) => {
      const flags = Object.fromEntries(
        Object.entries(raw).map(([k, v]) => [k.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`), v]),
      );
      const parsed = connectSchema.safeParse({ ...flags, name });
      if (!parsed.success) throw fromZod(parsed.error, '');
      const o = parsed.data;
      const stored = await loadCredentials(o['site-dir']);
      const control = o.control ?? stored?.control;
      const token = o['site-token'] ?? stored?.token;
      if (!control || !token)
        throw new GatehouseError(
          'not_connected',
          'this site is not set up: pass --control and --site-token (from `gatehouse site add`) once',
          400,
        );
      if (
        !o['insecure-control'] &&
        !/^https:|^http:\/\/(127\.[0-9.]+|\[::1\]|localhost)(:|\/|$)/.test(control)
      )
        throw new GatehouseError(
          'insecure_control',
          `control: ${control}: use https:// (plain http sends the site token in clear text); on a private path pass --insecure-control`,
          400,
        );
      if (control !== stored?.control || token !== stored.token)
        await saveCredentials(o['site-dir'], { control, token });
      const { SiteConnector } = await import('../../vpn/site-connector.js');
      const connector = new SiteConnector({
        control,
        token,
        name,
        dir: o['site-dir'],
        iface: o.interface ?? `gh-${name}`.slice(0, 15),
        log: createLogger(o['log-level']),
      });
      const stop = () => void connector.stop().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      await connector.run();
    });
  return cmd;
}
