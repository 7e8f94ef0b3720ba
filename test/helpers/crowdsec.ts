import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, until } from './net.js';
import { testDir } from './tmp.js';

const run = promisify(execFile);

export interface Crowdsec {
  /** The Local API (setting crowdsec_url). */
  url: string;
  /** A bouncer key for Gatehouse (setting crowdsec_api_key). */
  bouncerKey: string;
  /** `cscli` against this instance; resolves with its output. */
  cscli(args: string[]): Promise<string>;
  /** The decisions the Local API holds (`cscli decisions list`), as its JSON. */
  decisions(): Promise<{ value: string; type: string; scenario: string }[]>;
  close(): Promise<void>;
}

/**
 * A real CrowdSec (Debian's `crowdsec`: agent and Local API in one process), offline, in its own
 * directory: the hub's parsers and scenarios as the package installed them, minus the whitelist of
 * private and loopback addresses (the tests' clients are loopback addresses); the agent reads
 * `logFile` as nginx logs; decisions last `banDuration`.
 */
export async function startCrowdsec(opts: { logFile: string; banDuration?: string }): Promise<Crowdsec> {
  const dir = await testDir('gh-crowdsec-');
  const etc = join(dir, 'etc');
  const data = join(dir, 'data');
  await mkdir(etc, { recursive: true });
  await mkdir(data, { recursive: true });
  await mkdir(join(dir, 'log'), { recursive: true });
  // The installed items are symlinks into the hub: copied as symlinks (crowdsec does not follow a
  // symlinked directory).
  for (const d of ['parsers', 'scenarios', 'collections', 'patterns']) {
    await cp(join('/etc/crowdsec', d), join(etc, d), { recursive: true, verbatimSymlinks: true });
  }
  await rm(join(etc, 'parsers', 's02-enrich', 'whitelists.yaml'), { force: true });
  // The scenarios' data files (bad user agents, ...), beside this instance's own database.
  for (const f of await readdir('/var/lib/crowdsec/data')) {
    if (!f.endsWith('.db') && !f.includes('.db-'))
      await symlink(join('/var/lib/crowdsec/data', f), join(data, f));
  }
  const port = await freePort();
  const config = join(etc, 'config.yaml');
  await writeFile(
    config,
    [
      'common:',
      '  daemonize: false',
      '  log_media: file',
      '  log_level: info',
      `  log_dir: ${join(dir, 'log')}`,
      '  working_dir: .',
      'config_paths:',
      `  config_dir: ${etc}/`,
      `  data_dir: ${data}/`,
      `  simulation_path: ${etc}/simulation.yaml`,
      '  hub_dir: /var/lib/crowdsec/hub/',
      '  index_path: /var/lib/crowdsec/hub/.index.json',
      `  notification_dir: ${etc}/notifications/`,
      '  plugin_dir: /usr/lib/crowdsec/plugins/',
      'crowdsec_service:',
      `  acquisition_path: ${etc}/acquis.yaml`,
      '  parser_routines: 1',
      'cscli:',
      '  output: human',
      'db_config:',
      '  log_level: info',
      '  type: sqlite',
      `  db_path: ${data}/crowdsec.db`,
      '  use_wal: true',
      'api:',
      '  client:',
      `    credentials_path: ${etc}/local_api_credentials.yaml`,
      '  server:',
      '    log_level: info',
      `    listen_uri: 127.0.0.1:${port}`,
      `    profiles_path: ${etc}/profiles.yaml`,
      '    trusted_ips:',
      '      - 127.0.0.1',
      'prometheus:',
      '  enabled: false',
      '',
    ].join('\n'),
  );
  await writeFile(join(etc, 'simulation.yaml'), 'simulation: off\n');
  await writeFile(
    join(etc, 'profiles.yaml'),
    [
      'name: default_ip_remediation',
      'filters:',
      ' - Alert.Remediation == true && Alert.GetScope() == "Ip"',
      'decisions:',
      ' - type: ban',
      `   duration: ${opts.banDuration ?? '4h'}`,
      'on_success: break',
      '',
    ].join('\n'),
  );
  await writeFile(
    join(etc, 'acquis.yaml'),
    ['filenames:', `  - ${opts.logFile}`, 'labels:', '  type: nginx', ''].join('\n'),
  );
  const cscli = async (args: string[]) => (await run('cscli', ['-c', config, ...args])).stdout;
  const creds = join(etc, 'local_api_credentials.yaml');
  await cscli(['machines', 'add', 'gatehouse-test', '--auto', '-f', creds]);
  // cscli writes the default URL: this instance's instead.
  const text = await readFile(creds, 'utf8');
  await writeFile(creds, text.replace(/^url: .*$/m, `url: http://127.0.0.1:${port}/`));
  const bouncerKey = (await cscli(['bouncers', 'add', 'gatehouse', '-o', 'raw'])).trim();
  const proc: ChildProcess = spawn('crowdsec', ['-c', config], { cwd: dir, stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await until(async () => {
    const res = await fetch(`${url}/v1/decisions/stream?startup=true`, {
      headers: { 'X-Api-Key': bouncerKey },
    }).catch(() => undefined);
    return res?.status === 200 || undefined;
  }, 30_000);
  return {
    url,
    bouncerKey,
    cscli,
    decisions: async () => {
      const out = await cscli(['decisions', 'list', '-o', 'json']);
      const alerts = (JSON.parse(out || 'null') ?? []) as {
        decisions?: { value: string; type: string; scenario: string }[];
      }[];
      return alerts.flatMap((a) => a.decisions ?? []);
    },
    close: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
    },
  };
}
