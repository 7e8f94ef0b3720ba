import { Command } from 'commander';
import { createLogger } from '../../observe/log.js';
import { cliContext } from '../context.js';
import { table } from '../format.js';
import type { NodeView } from '../../edge/nodes.js';

/** `gatehouse edge`: run this machine as an edge node of a control plane. */
export function edgeCommand(): Command {
  return new Command('edge')
    .description('run an edge node: take the config from a control plane and serve it with nginx')
    .requiredOption('--control <url>', "the control plane's management API URL")
    .requiredOption('--node-token <token>', "this node's token (from `gatehouse node add`)")
    .option('--edge-dir <dir>', 'where the edge keeps its nginx', '/var/lib/gatehouse-edge')
    .option('--edge-http-port <port>', 'HTTP port to serve on', '80')
    .option('--edge-https-port <port>', 'HTTPS port to serve on (0: none)', '443')
    .option('--nginx-bin <path>', 'nginx binary', 'nginx')
    .option('--nginx-modules-dir <dir>', 'nginx modules', '/usr/lib/nginx/modules')
    .option('--log-level <level>', 'log level', 'info')
    .action(
      async (o: {
        control: string;
        nodeToken: string;
        edgeDir: string;
        edgeHttpPort: string;
        edgeHttpsPort: string;
        nginxBin: string;
        nginxModulesDir: string;
        logLevel: string;
      }) => {
        const log = createLogger(o.logLevel as 'info');
        const port = Number(o.edgeHttpPort);
        if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error('--edge-http-port: 1-65535');
        const httpsPort = Number(o.edgeHttpsPort);
        if (!Number.isInteger(httpsPort) || httpsPort < 0 || httpsPort > 65535 || httpsPort === port)
          throw new Error('--edge-https-port: 0-65535, not the HTTP port');
        const { EdgeAgent } = await import('../../edge/agent.js');
        const agent = new EdgeAgent({
          control: o.control,
          token: o.nodeToken,
          dataDir: o.edgeDir,
          httpPort: port,
          httpsPort,
          nginxBin: o.nginxBin,
          modulesDir: o.nginxModulesDir,
          workers: 1,
          log,
        });
        const stop = () => void agent.stop().then(() => process.exit(0));
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
        await agent.run();
      },
    );
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
      const r = await ctx.client.call<{ node: NodeView; token: string; command: string }>(
        'POST',
        '/api/v1/nodes',
        {
          name,
          role: o.role,
        },
      );
      ctx.print(`enrolled node ${r.node.name}; on it, run:\n  ${r.command}`, r);
    });
  cmd
    .command('ls')
    .description('list nodes with what they applied and when they were last seen')
    .action(async (_o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<{ nodes: (NodeView & { in_sync: boolean })[] }>('GET', '/api/v1/nodes');
      ctx.print(
        table(
          ['NAME', 'ROLE', 'STATE', 'ADDRESS', 'VERSION', 'LAST SEEN', 'APPLIED', 'DOWN', 'ERROR'],
          r.nodes.map((n) => [
            n.name,
            n.role,
            n.online ? 'online' : 'offline',
            n.address || '-',
            n.version || '-',
            n.last_seen ?? 'never',
            n.applied_hash ? (n.in_sync ? 'current' : 'behind') : '-',
            n.down_servers.join(' ') || '-',
            n.last_error || '-',
          ]),
        ),
        r,
      );
    });
  cmd
    .command('rm <name>')
    .description('remove a node (its token stops working)')
    .action(async (name: string, _o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call('DELETE', `/api/v1/nodes/${encodeURIComponent(name)}`);
      ctx.print(`removed node ${name}`, r);
    });
  return cmd;
}
