import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GatehouseError } from '../../model/errors.js';
import { flagName, loadSettings, parseListen, SETTING_KEYS, type Settings } from '../../model/settings.js';
import { createLogger } from '../../observe/log.js';

/** Setting keys that have a flag (templates only come from the config file). */
const FLAG_KEYS = SETTING_KEYS.filter((k) => k !== 'templates' && k !== 'config' && k !== 'data_dir');

/** Adds a flag per setting (the same for `up` and `doctor`, so that both see one instance). */
export function settingFlags(cmd: Command): Command {
  for (const key of FLAG_KEYS)
    cmd.option(`--${flagName(key)} <value>`, `setting ${key} (env GATEHOUSE_${key.toUpperCase()})`);
  return cmd;
}

/** Settings from those flags, the environment and the config file, as `up` reads them. */
export function settingsFromFlags(c: Command): Settings {
  const all = c.optsWithGlobals<Record<string, string | boolean | undefined>>();
  const flags: Record<string, unknown> = { config: all.config, data_dir: all.dataDir };
  for (const key of FLAG_KEYS) flags[key] = all[camel(flagName(key))];
  return loadSettings(flags);
}

export function upCommand(): Command {
  const cmd = settingFlags(
    new Command('up').description(
      'start Gatehouse: registry, managed nginx, management and registration APIs',
    ),
  );
  cmd.action(async (_o, c: Command) => {
    const settings = settingsFromFlags(c);
    const log = createLogger(settings.log_level);
    // A bug somewhere must not take the control plane (and with it config changes) down: log it.
    process.on('unhandledRejection', (err) => log.error({ err: String(err) }, 'unhandled rejection'));
    // Ctrl-C or SIGTERM while still starting (the API may already answer) must not kill the process
    // outright, leaving its nginx behind: it is remembered, and acted on once the start is done.
    let stopping = false;
    let stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping once started');
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    // Loaded here so that client commands start quickly without the server's modules.
    const { startGatehouse } = await import('../../gatehouse.js');
    const gh = await startGatehouse(settings, log).catch((err: unknown) => {
      throw portInUse(err, settings) ?? err;
    });
    if (gh.generated.admin || gh.generated.register) {
      // Printed once: only their hashes are stored.
      const lines = ['', 'Generated tokens (shown once; only their hashes are stored):'];
      if (gh.generated.admin) lines.push(`  admin token:    ${gh.generated.admin}`);
      if (gh.generated.register) lines.push(`  register token: ${gh.generated.register}`);
      lines.push('Set GATEHOUSE_ADMIN_TOKEN / GATEHOUSE_REGISTER_TOKEN to choose your own.', '');
      process.stdout.write(lines.join('\n') + '\n');
    }
    const { hasAdmin } = await import('../../store/db.js');
    process.stdout.write(banner(settings, gh.addresses, !(await hasAdmin(gh.db)), process.pid) + '\n');
    const close = () => void gh.close().then(() => process.exit(0));
    if (stopping) return close();
    stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping');
      close();
    };
  });
  return cmd;
}

/**
 * What an operator needs after `up`, in one block on stdout (logs go to stderr): where the web UI
 * is, how to make the first admin, that other shells must name the same data dir, and how to stop it.
 */
export function banner(
  settings: Settings,
  addresses: { api: string; register: string },
  needsAdmin: boolean,
  pid: number,
): string {
  const dataDir = resolve(settings.data_dir);
  const isDefault = dataDir === resolve(loadSettings({}, {}).data_dir);
  // From a checkout (the quick start) the command is run through npx.
  const cli = existsSync(join(process.cwd(), 'bin', 'gatehouse.js')) ? 'npx gatehouse' : 'gatehouse';
  const dirFlag = isDefault ? '' : ` --data-dir ${dataDir}`;
  const ui = addresses.api.startsWith('http')
    ? `${addresses.api.replace('//0.0.0.0:', '//127.0.0.1:').replace('//[::]:', '//[::1]:')}/`
    : `on the unix socket ${addresses.api}`;
  const lines = [
    `Gatehouse is up: proxy on :${settings.http_port}${settings.https_port ? ` (HTTPS :${settings.https_port})` : ''}, API on ${addresses.api}, registration on ${addresses.register}`,
    `  Web UI:    ${ui}`,
  ];
  if (needsAdmin)
    lines.push(
      `  First admin (prints a password for the web UI):`,
      `             ${cli}${dirFlag} user add admin --admin`,
    );
  lines.push(
    `  Data dir:  ${dataDir}${isDefault ? ' (the default)' : ''}`,
    isDefault
      ? `             the CLI in another shell finds this instance there`
      : `             in another shell, name it too: ${cli} --data-dir ${dataDir} ..., or export GATEHOUSE_DATA_DIR=${dataDir}`,
    // nginx runs as long as Gatehouse does: stopping Gatehouse stops it too.
    `  Stop:      Ctrl-C here, or kill ${pid} (SIGTERM); the nginx it manages stops with it`,
  );
  return lines.join('\n');
}

/**
 * A port another program holds, told as the setting that names it (Node's EADDRINUSE for the APIs,
 * nginx's bind() error for the proxy ports): what to do, not a system call's words.
 */
export function portInUse(err: unknown, settings: Settings): GatehouseError | undefined {
  const node = err as NodeJS.ErrnoException & { port?: number };
  const message = err instanceof Error ? err.message : String(err);
  const port =
    node.code === 'EADDRINUSE'
      ? node.port
      : Number(/bind\(\) to \S*:([0-9]+) failed \(98: Address already in use\)/.exec(message)?.[1]);
  if (!port) return undefined;
  const settingsWith: [string, number | undefined, string][] = [
    ['http_port', settings.http_port, String(settings.http_port)],
    ['https_port', settings.https_port || undefined, String(settings.https_port)],
    ['api_listen', parseListen(settings.api_listen).port, settings.api_listen],
    ['register_listen', parseListen(settings.register_listen).port, settings.register_listen],
  ];
  const hit = settingsWith.find(([, p]) => p === port);
  const named = hit ? ` (--${flagName(hit[0])} ${hit[2]})` : '';
  return new GatehouseError(
    'port_in_use',
    `port ${port}${named} is in use by another program (another Gatehouse? \`ss -ltnp 'sport = :${port}'\` names it): stop it or choose another port; Gatehouse did not start`,
    409,
    hit ? [{ field: hit[0], message: `port ${port} is in use` }] : [],
  );
}

function camel(s: string): string {
  return s.replace(/-([a-z])/g, (_, ch: string) => ch.toUpperCase());
}
