import { Command } from 'commander';
import YAML from 'yaml';
import { GatehouseError, invalid } from '../../model/errors.js';
import { readTextFile } from '../../sources/file/read.js';
import { cliContext, collect, type CliContext } from '../context.js';
import type {
  ServiceDelete,
  ServiceDryRun,
  ServiceList,
  ServiceRecordView,
  ServiceWrite,
} from '../../api/views/index.js';
import { ago, table } from '../format.js';

/** The first two upstreams and how many more: a list stays one line per service. */
function shorten(list: string[]): string {
  if (list.length === 0) return '-';
  return list.length > 2 ? `${list.slice(0, 2).join(',')} +${list.length - 2}` : list.join(',');
}

export function serviceCommand(): Command {
  const cmd = new Command('service').description('list, show, add and remove services');

  cmd
    .command('ls')
    .description('list services: access, upstreams, HTTPS and state at a glance')
    .action(async (_o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<ServiceList>('GET', '/api/v1/services');
      ctx.print(
        table(
          ['NAME', 'HOSTS', 'ACCESS', 'UPSTREAMS', 'HTTPS', 'STATE', 'SOURCE', 'UPDATED'],
          r.services.map(({ service: s, meta, summary: m }) => [
            s.name,
            [...s.hosts, ...s.tcp.map((t) => `tcp:${t.port}`)].join(',') || '-',
            // A public service must stand out from the guarded ones.
            m.public ? m.access.toUpperCase() : m.access,
            s.site ? `${shorten(m.upstreams)} (site ${s.site})` : shorten(m.upstreams),
            m.https,
            m.down ? `${m.state} (${m.down} down)` : m.state === 'failing' ? m.state_label : m.state,
            meta.owner ? `${meta.source}:${meta.owner}` : meta.source,
            ago(meta.updated_at),
          ]),
        ),
        r,
      );
    });

  cmd
    .command('show <name>')
    .description('show one service as YAML')
    .action(async (name: string, _o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<ServiceRecordView>(
        'GET',
        `/api/v1/services/${encodeURIComponent(name)}`,
      );
      const owner = r.meta.owner ? ` (${r.meta.owner})` : '';
      ctx.print(
        `# source: ${r.meta.source}${owner}, updated ${r.meta.updated_at}\n${YAML.stringify(r.service)}`,
        r,
      );
    });

  cmd
    .command('add')
    .description('create a service (or, with --replace, replace one), from a YAML/JSON file or from flags')
    .option('-f, --file <path>', 'service definition (YAML or JSON); "-" reads stdin')
    .option('--name <name>', 'service name')
    .option('--host <host>', 'host name (repeatable)', collect)
    .option(
      '--upstream <addr>',
      'upstream IP:port, name:port or http(s)://IP-or-name:port (repeatable)',
      collect,
    )
    .option('--path <prefix>', 'path prefix', '/')
    .option('--tcp-port <port>', 'instead of HTTP: a TCP port to route to the upstreams')
    .option('--site <site>', "the WireGuard site it lives at (its upstreams inside that site's subnets)")
    .option('--replace', 'replace an existing service of that name (its access rules too); prints the diff')
    .option('--dry-run', 'print what would change, change nothing')
    .action(
      async (
        o: {
          file?: string;
          name?: string;
          host?: string[];
          upstream?: string[];
          path: string;
          tcpPort?: string;
          site?: string;
          replace?: boolean;
          dryRun?: boolean;
        },
        c: Command,
      ) => {
        const ctx = cliContext(c);
        let spec: unknown;
        if (o.file) {
          const text = o.file === '-' ? await readStdin() : await readTextFile(o.file);
          try {
            spec = YAML.parse(text);
          } catch (err) {
            throw new GatehouseError('invalid', `${o.file}: ${(err as Error).message}`);
          }
        } else {
          if (!o.name)
            throw new GatehouseError('invalid', 'give --file, or --name with --host and --upstream');
          if (o.tcpPort !== undefined && !/^[0-9]{1,5}$/.test(o.tcpPort))
            throw invalid('--tcp-port', `expected a port from 1 to 65535 (got ${JSON.stringify(o.tcpPort)})`);
          spec = o.tcpPort
            ? { name: o.name, tcp: [{ port: Number(o.tcpPort), upstreams: o.upstream ?? [] }] }
            : { name: o.name, hosts: o.host ?? [], routes: [{ path: o.path, upstreams: o.upstream ?? [] }] };
          if (o.site !== undefined) spec = { ...(spec as object), site: o.site };
        }
        const name = (spec as { name?: unknown } | null)?.name;
        if (typeof name !== 'string' || name === '') throw new GatehouseError('invalid', 'name: required');
        await addService(ctx, name, spec, { replace: !!o.replace, dryRun: !!o.dryRun }).catch(
          (err: unknown) => {
            // Built from flags: the flag at fault, not a field of a body the user never wrote.
            throw !o.file && err instanceof GatehouseError ? inFlags(err, o) : err;
          },
        );
      },
    );

  cmd
    .command('rm <name>')
    .description('remove a service')
    .option('--force', 'allow removing the last route')
    .action(async (name: string, o: { force?: boolean }, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<ServiceDelete>(
        'DELETE',
        `/api/v1/services/${encodeURIComponent(name)}?wait=true${o.force ? '&force=true' : ''}`,
      );
      ctx.print(`service ${name} removed (version ${r.version})`, r);
    });
  return cmd;
}

/**
 * Creates `name`, refusing to overwrite an existing service unless asked to (`replace`): a
 * replacement takes the whole definition, so access rules left out of `spec` would be dropped. The
 * diff is shown first, and the write is guarded by the version it was computed against.
 */
async function addService(
  ctx: CliContext,
  name: string,
  spec: unknown,
  o: { replace: boolean; dryRun: boolean },
): Promise<void> {
  const path = `/api/v1/services/${encodeURIComponent(name)}`;
  const existing = await ctx.client.call<ServiceRecordView>('GET', path).catch((err: unknown) => {
    if (err instanceof GatehouseError && err.status === 404) return undefined;
    throw err;
  });
  const guard = existing ? existing.meta.updated_at : 'absent';
  const dry = await ctx.client.call<ServiceDryRun>(
    'PUT',
    `${path}?dry_run=true&if_updated_at=${encodeURIComponent(guard)}`,
    spec,
  );
  const patch = dry.changes.map((c) => c.patch.trimEnd()).join('\n');
  if (existing && !o.replace) {
    const owner = existing.meta.owner ? `:${existing.meta.owner}` : '';
    throw new GatehouseError(
      'exists',
      `service ${name} exists (source ${existing.meta.source}${owner}, hosts ${existing.service.hosts.join(',') || '-'}); ` +
        `nothing changed. Add --replace to replace it as a whole (access rules included)` +
        (patch ? `; it would change:\n${patch}` : '; the new definition is the same'),
      409,
      [{ field: 'name', message: `service ${name} exists` }],
    );
  }
  if (o.dryRun) {
    ctx.print(patch || `service ${name}: nothing would change`, dry);
    return;
  }
  if (existing && dry.changes.length === 0) {
    ctx.print(`service ${name}: nothing to change`, { name, changes: [] });
    return;
  }
  const r = await ctx.client.call<ServiceWrite>(
    'PUT',
    `${path}?wait=true&if_updated_at=${encodeURIComponent(guard)}`,
    spec,
  );
  const done = `service ${name} ${existing ? 'replaced' : 'saved'} as version ${r.version}; live on the proxy`;
  ctx.print(existing ? `${patch}\n${done}` : done, { ...r, changes: dry.changes });
}

/**
 * An API error about a service `service add` built from flags, told in those flags: `hosts.0` is
 * `--host <that host>`, `routes.0.upstreams` is `--upstream`, the path's name is `--name`.
 */
export function inFlags(err: GatehouseError, o: { host?: string[]; upstream?: string[] }): GatehouseError {
  const flag = (field: string): string => {
    const host = /^hosts(?:\.(\d+))?$/.exec(field);
    if (host) return host[1] === undefined ? '--host' : `--host ${o.host?.[Number(host[1])] ?? ''}`;
    const up = /^(?:routes|tcp)\.0\.upstreams(?:\.(\d+))?$/.exec(field);
    if (up) return up[1] === undefined ? '--upstream' : `--upstream ${o.upstream?.[Number(up[1])] ?? ''}`;
    if (/^(params\.)?name$/.test(field)) return '--name';
    if (field === 'routes.0.path') return '--path';
    if (field === 'tcp.0.port') return '--tcp-port';
    if (field === 'site') return '--site';
    return field;
  };
  // Only a message that starts with its field is about that field (not, say, "service x exists").
  const field = err.issues[0]?.field;
  if (field === undefined || !err.message.startsWith(`${field}: `)) return err;
  const issues = err.issues.map((i) => ({ field: flag(i.field), message: i.message }));
  return new GatehouseError(err.code, `${flag(field)}${err.message.slice(field.length)}`, err.status, issues);
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}
