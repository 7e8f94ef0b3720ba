import { Command, CommanderError } from 'commander';
import { GatehouseError } from '../model/errors.js';
import { serviceCommand } from './commands/service.js';
import { snapshotCommand } from './commands/snapshot.js';
import { auditCommand } from './commands/audit.js';
import { statusCommand } from './commands/status.js';
import { doctorCommand } from './commands/doctor.js';
import { backupCommand } from './commands/backup.js';
import { dbCommand } from './commands/db.js';
import { rotateCommand } from './commands/rotate.js';
import { dnsCommand } from './commands/dns.js';
import { alertCommand } from './commands/alert.js';
import { analyticsCommand, logsCommand } from './commands/logs.js';
import { upCommand } from './commands/up.js';
import { linkCommand } from './commands/link.js';
import { apiKeyCommand } from './commands/api-key.js';
import { providerCommand } from './commands/provider.js';
import { certCommand } from './commands/cert.js';
import { edgeCommand, nodeCommand } from './commands/edge.js';
import { haCommand } from './commands/ha.js';
import { siteCommand } from './commands/site.js';
import { vpnCommand } from './commands/vpn.js';
import { applyCommand } from './commands/apply.js';
import { agentCommand } from './commands/agent.js';
import { groupCommand, hashPasswordCommand, sessionCommand, userCommand } from './commands/user.js';

export function buildCli(): Command {
  const program = new Command('gatehouse')
    .description('Gatehouse: a self-hosted edge platform driving nginx')
    .option('--json', 'machine-readable output')
    .option(
      '--api <url>',
      'management API URL (default: the local socket in the data dir; env GATEHOUSE_API)',
    )
    .option('--token <token>', 'admin token for --api (env GATEHOUSE_ADMIN_TOKEN)')
    .option('--data-dir <dir>', 'data directory (env GATEHOUSE_DATA_DIR)')
    .option('--config <file>', 'YAML settings file (env GATEHOUSE_CONFIG)')
    .showHelpAfterError()
    .exitOverride();
  program.addCommand(upCommand());
  program.addCommand(serviceCommand());
  program.addCommand(snapshotCommand());
  program.addCommand(userCommand());
  program.addCommand(groupCommand());
  program.addCommand(sessionCommand());
  program.addCommand(linkCommand());
  program.addCommand(apiKeyCommand());
  program.addCommand(providerCommand());
  program.addCommand(hashPasswordCommand());
  program.addCommand(certCommand());
  program.addCommand(nodeCommand());
  program.addCommand(edgeCommand());
  program.addCommand(siteCommand());
  program.addCommand(vpnCommand());
  program.addCommand(haCommand());
  program.addCommand(applyCommand());
  program.addCommand(agentCommand());
  program.addCommand(statusCommand());
  program.addCommand(auditCommand());
  program.addCommand(doctorCommand());
  program.addCommand(backupCommand());
  program.addCommand(dbCommand());
  program.addCommand(rotateCommand());
  program.addCommand(dnsCommand());
  program.addCommand(alertCommand());
  program.addCommand(logsCommand());
  program.addCommand(analyticsCommand());
  return program;
}

/** Every command under `cmd`, itself included. */
function allCommands(cmd: Command): Command[] {
  return [cmd, ...cmd.commands.flatMap(allCommands)];
}

/** Whether `--json` was given (anywhere before a "--"): errors then answer in JSON too. */
function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

/** An error as the API answers it, `{"error":{"code","message","issues"?}}`, on stderr. */
function printJsonError(code: string, message: string, issues: { field: string; message: string }[] = []) {
  console.error(JSON.stringify({ error: { code, message, ...(issues.length ? { issues } : {}) } }, null, 2));
}

/** Runs the CLI; errors become one line on stderr (JSON with --json) and a non-zero exit, never a stack trace. */
export async function main(argv: string[]): Promise<void> {
  const json = wantsJson(argv);
  const program = buildCli();
  for (const c of allCommands(program)) {
    // Subcommands would exit the process themselves on a usage error: throw to here instead.
    c.exitOverride();
    // With --json, usage errors are reported below as JSON instead of commander's text.
    if (json) c.configureOutput({ outputError: () => undefined, writeErr: () => undefined });
  }
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (json && err.exitCode !== 0) printJsonError('usage', err.message.replace(/^error: /, ''));
      process.exitCode = err.exitCode;
      return;
    }
    if (err instanceof GatehouseError) {
      if (json) printJsonError(err.code, err.message, err.issues);
      else {
        console.error(`error: ${err.message}`);
        for (const i of err.issues.slice(1)) console.error(`  ${i.field}: ${i.message}`);
      }
      process.exitCode = 2;
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    if (json) printJsonError('error', message);
    else console.error(`error: ${message}`);
    process.exitCode = 1;
  }
}
